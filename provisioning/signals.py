"""Signals for the host application, sent after the transaction of a change commits.

Every signal is sent with `sender` the model class (`User` or `Group`) and the keyword
arguments `tenant`, `resource_id`, `record` (the `ChangeRecord`) and `changed` (the names of
the changed attributes); `group_members_changed` also with `added` and `removed`, the ids of
the members that joined and left.
"""

from django.dispatch import Signal

user_created = Signal()
user_updated = Signal()
user_deactivated = Signal()
user_reactivated = Signal()
user_deleted = Signal()
group_created = Signal()
group_updated = Signal()
group_deleted = Signal()
group_members_changed = Signal()
