"""Linked Django users and groups: each provisioned User (and Group) of a tenant has a
`django.contrib.auth` user (and group) kept in step, in the transaction of the change, so a
host application that signs people in with SSO sees exactly whom the IdP provisioned.

Opt-in: `SCIM_SYNC_AUTH_USERS` and `SCIM_SYNC_AUTH_GROUPS`. The username is the userName;
email, first and last name come from the main email and `name`; `is_active` from `active`
(unset counts as active). A deactivated or deleted User's login is made inactive and its
password unusable anew: Django checks a session against a hash of the password on every
request, so that person's sessions end at once, whatever the session backend.

A userName or displayName that already names a Django user or group this tenant did not
provision is refused (409): an IdP must never take over an existing login, such as an admin's.
Group membership is mirrored for the Users among the members (nested groups are not
flattened), member by member, so its cost does not grow with the group.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as AuthGroup

from . import app_settings
from .models import AuthGroupLink, AuthUserLink, ChangeRecord, Group, User
from .scim.errors import InvalidValue, Uniqueness

DELETE = ChangeRecord.Operation.DELETE
NAME_MAX = 150  # Django's username, first_name, last_name and group name


def syncs(model: type[User | Group]) -> bool:
    """Return whether writes of `model` bring a linked Django user or group in step."""
    return app_settings.get("SYNC_AUTH_USERS" if model is User else "SYNC_AUTH_GROUPS")


def sync(obj: User | Group, change: ChangeRecord, added, removed) -> None:
    """Bring the linked Django user or group of `obj` in step with `change`, if enabled."""
    if not syncs(type(obj)):
        return
    if isinstance(obj, User):
        _sync_user(obj, change)
    else:
        _sync_group(obj, change, added, removed)


def _sync_user(user: User, change: ChangeRecord) -> None:
    link = (
        AuthUserLink.objects.select_related("auth_user")
        .filter(tenant_id=user.tenant_id, resource_id=user.pk)
        .first()
    )
    if change.operation == DELETE:
        if link is not None:
            _lock_out(link.auth_user)
            link.auth_user.save()
            link.auth_user.groups.remove(*_linked_groups(user.tenant_id))
        return
    username = _name(user.user_name, "userName")
    auth_user = link.auth_user if link else _adopt_or_create(user, username)
    if auth_user.username != username:
        _check_free(get_user_model().objects.filter(username=username), username, "userName")
    auth_user.username = username
    auth_user.email = user.email or ""
    auth_user.first_name = (user.given_name or "")[:NAME_MAX]
    auth_user.last_name = (user.family_name or "")[:NAME_MAX]
    if user.active is False:
        if auth_user.is_active:
            _lock_out(auth_user)
    else:
        auth_user.is_active = True
    auth_user.save()


def _adopt_or_create(user: User, username: str):
    """Return the Django user for a User not linked yet: a new one, or the login this tenant
    gave the same userName before that User was deleted."""
    model = get_user_model()
    existing = model.objects.filter(username=username).select_related("scim_link").first()
    if existing is None:
        auth_user = model(username=username)
        auth_user.set_unusable_password()
        auth_user.save()
        AuthUserLink.objects.create(
            tenant_id=user.tenant_id, resource_id=user.pk, auth_user=auth_user
        )
        return auth_user
    link = getattr(existing, "scim_link", None)
    if (
        link is None
        or link.tenant_id != user.tenant_id
        or User.objects.filter(pk=link.resource_id).exists()
    ):
        raise Uniqueness(f"userName '{username}' belongs to a Django user not provisioned here.")
    link.resource_id = user.pk
    link.save(update_fields=["resource_id"])
    return existing


def _lock_out(auth_user) -> None:
    """Make the login inactive and end its sessions: a new unusable password changes the
    session hash that Django checks on every request."""
    auth_user.is_active = False
    auth_user.set_unusable_password()


def _sync_group(group: Group, change: ChangeRecord, added, removed) -> None:
    link = (
        AuthGroupLink.objects.select_related("auth_group")
        .filter(tenant_id=group.tenant_id, resource_id=group.pk)
        .first()
    )
    if change.operation == DELETE:
        if link is not None:
            link.auth_group.delete()
        return
    name = _name(group.display_name, "displayName")
    if link is None:
        _check_free(AuthGroup.objects.filter(name=name), name, "displayName")
        auth_group = AuthGroup.objects.create(name=name)
        AuthGroupLink.objects.create(
            tenant_id=group.tenant_id, resource_id=group.pk, auth_group=auth_group
        )
    else:
        auth_group = link.auth_group
        if auth_group.name != name:
            _check_free(AuthGroup.objects.filter(name=name), name, "displayName")
            auth_group.name = name
            auth_group.save(update_fields=["name"])
    through = get_user_model().groups.through
    if removed:
        through.objects.filter(
            group=auth_group,
            user__scim_link__tenant_id=group.tenant_id,
            user__scim_link__resource_id__in=removed,
        ).delete()
    if added:
        users = AuthUserLink.objects.filter(
            tenant_id=group.tenant_id, resource_id__in=added
        ).values_list("auth_user_id", flat=True)
        through.objects.bulk_create(
            [through(group=auth_group, user_id=user_id) for user_id in users],
            ignore_conflicts=True,
        )


def _linked_groups(tenant_id) -> list[AuthGroup]:
    return list(AuthGroup.objects.filter(scim_link__tenant_id=tenant_id))


def _name(value: str, attribute: str) -> str:
    if len(value) > NAME_MAX:
        raise InvalidValue(
            f"'{attribute}' is longer than the {NAME_MAX} characters a Django login allows."
        )
    return value


def _check_free(queryset, name: str, attribute: str) -> None:
    if queryset.exists():
        raise Uniqueness(f"{attribute} '{name}' belongs to a Django login not provisioned here.")
