"""Linked Django users and groups (SCIM_SYNC_AUTH_USERS, SCIM_SYNC_AUTH_GROUPS): kept in step
with what the IdP provisions, in the same transaction; a deprovisioned person is locked out
at once, sessions included."""

import pytest
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.models import User as AuthUser
from django.http import HttpRequest
from django.test import Client

from provisioning.models import AuthUserLink, ChangeRecord, User
from tests.conftest import assert_scim_error, group_body, patch_body, user_body


@pytest.fixture
def sync_users(settings):
    settings.SCIM = {**settings.SCIM, "SYNC_AUTH_USERS": True}


@pytest.fixture
def sync_groups(settings, sync_users):
    settings.SCIM = {**settings.SCIM, "SYNC_AUTH_GROUPS": True}


def login(auth_user) -> Client:
    """Return a browser signed in as `auth_user`, as an SSO login would leave it."""
    browser = Client()
    browser.force_login(auth_user)
    return browser


def signed_in(browser: Client):
    """Return who the browser's session belongs to now, as AuthenticationMiddleware sees it."""
    request = HttpRequest()
    request.session = browser.session
    return get_user(request)


def auth_fields(username: str) -> dict:
    return (
        AuthUser.objects.filter(username=username)
        .values("username", "email", "first_name", "last_name", "is_active")
        .get()
    )


BABS = dict(
    active=True,
    name={"givenName": "Barbara", "familyName": "Jensen"},
    emails=[{"value": "babs@example.com", "type": "work", "primary": True}],
)


def test_a_provisioned_user_gets_a_linked_django_user(scim, sync_users):
    """userName, email, first and last name and active become the Django user's; it has no
    usable password (people sign in through SSO); later changes follow."""
    user = scim.post("/Users", user_body("bjensen", **BABS)).json()
    assert auth_fields("bjensen") == {
        "username": "bjensen",
        "email": "babs@example.com",
        "first_name": "Barbara",
        "last_name": "Jensen",
        "is_active": True,
    }
    assert not AuthUser.objects.get().has_usable_password()

    scim.patch(
        f"/Users/{user['id']}",
        patch_body(
            {"op": "replace", "path": "userName", "value": "babs"},
            {"op": "replace", "path": "name.familyName", "value": "Smith"},
        ),
    )
    assert auth_fields("babs")["last_name"] == "Smith"
    assert AuthUser.objects.count() == 1


@pytest.mark.parametrize(
    "backend",
    [
        "django.contrib.auth.backends.ModelBackend",
        "django.contrib.auth.backends.AllowAllUsersModelBackend",
    ],
    ids=["model-backend", "backend-allowing-inactive-users"],
)
def test_deactivation_locks_out_and_ends_sessions(scim, sync_users, settings, backend):
    """Deactivation makes the Django user inactive and ends its sessions on their next
    request, even with a backend that lets inactive users in; reactivation lets them sign in
    again (a new session)."""
    settings.AUTHENTICATION_BACKENDS = [backend]
    user = scim.post("/Users", user_body("bjensen", **BABS)).json()
    auth_user = AuthUser.objects.get()
    browser = login(auth_user)
    assert signed_in(browser) == auth_user

    scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "value": {"active": False}}))

    assert auth_fields("bjensen")["is_active"] is False
    assert isinstance(signed_in(browser), AnonymousUser)
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "value": {"active": True}}))
    assert auth_fields("bjensen")["is_active"] is True
    assert signed_in(login(AuthUser.objects.get())).username == "bjensen"


def test_deletion_locks_out_and_a_recreated_user_gets_the_same_login(scim, sync_users):
    """Deleting the User leaves its Django user inactive, its sessions ended; when the IdP
    provisions the same userName again, that login is linked to the new User."""
    user = scim.post("/Users", user_body("bjensen", **BABS)).json()
    auth_user = AuthUser.objects.get()
    browser = login(auth_user)

    scim.delete(f"/Users/{user['id']}")

    assert auth_fields("bjensen")["is_active"] is False
    assert isinstance(signed_in(browser), AnonymousUser)
    again = scim.post("/Users", user_body("bjensen", **BABS)).json()
    assert list(AuthUserLink.objects.values_list("resource_id", "auth_user_id")) == [
        (User.objects.get().pk, auth_user.pk)
    ]
    assert again["id"] != user["id"] and auth_fields("bjensen")["is_active"] is True


def test_an_existing_login_is_never_taken_over(scim, sync_users, make_tenant, make_client):
    """A userName that names a Django user the tenant did not provision (an admin, or
    another tenant's person) is refused with 409, and nothing is written."""
    AuthUser.objects.create_superuser("admin", "admin@example.com", "x")
    assert_scim_error(scim.post("/Users", user_body("admin")), 409, "uniqueness")
    scim.post("/Users", user_body("bjensen"))
    other = make_client(make_tenant("other"))
    assert_scim_error(other.post("/Users", user_body("bjensen")), 409, "uniqueness")
    assert list(User.objects.values_list("user_name", flat=True)) == ["bjensen"]
    assert ChangeRecord.objects.count() == 1
    assert AuthUser.objects.get(username="admin").is_superuser


def test_off_by_default(scim):
    """Without SCIM_SYNC_AUTH_USERS, no Django user is made."""
    scim.post("/Users", user_body("bjensen"))
    assert not AuthUser.objects.exists()


def test_groups_and_their_user_members_are_mirrored(scim, sync_groups, make_user, make_group):
    """A Group becomes a Django group of the same name whose users are its User members;
    adds, removes, renames and the delete follow."""
    alice, bob = make_user("alice"), make_user("bob")
    group = make_group("Guides", members=[{"value": alice["id"]}])

    def members():
        return {
            name: sorted(
                AuthUser.objects.filter(groups__name=name).values_list("username", flat=True)
            )
            for name in AuthGroup.objects.values_list("name", flat=True)
        }

    assert members() == {"Guides": ["alice"]}
    url = f"/Groups/{group['id']}"
    scim.patch(url, patch_body({"op": "add", "path": "members", "value": [{"value": bob["id"]}]}))
    assert members() == {"Guides": ["alice", "bob"]}
    scim.patch(
        url,
        patch_body(
            {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
            {"op": "replace", "path": "displayName", "value": "Tour Guides"},
        ),
    )
    assert members() == {"Tour Guides": ["bob"]}
    scim.put(url, group_body("Tour Guides", members=[{"value": alice["id"]}]))
    assert members() == {"Tour Guides": ["alice"]}
    scim.delete(url)
    assert members() == {}


def test_a_group_name_of_an_existing_django_group_is_refused(scim, sync_groups):
    """A displayName naming a Django group not provisioned here is a 409."""
    AuthGroup.objects.create(name="Staff")
    assert_scim_error(scim.post("/Groups", group_body("Staff")), 409, "uniqueness")
