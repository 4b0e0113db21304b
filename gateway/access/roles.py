"""Who may do what: the roles, what each is permitted, and the caller (`Principal`) they belong to.

admin    every record (read, delete), streams, the admin API (keys, audit)
user     its own records (read, delete), streams
viewer   its own records, read only: no stream, no delete

The operator's `API_KEY` is admin. With no key at all the gateway is open: anyone reads, streams
and deletes every record, but nobody manages keys (the admin API needs a key to say who asks).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from gateway.errors import Forbidden

ADMIN, USER, VIEWER = "admin", "user", "viewer"
ROLES = (ADMIN, USER, VIEWER)
OPEN = "open"  # no key configured: not a role anyone is given


class Permission(enum.Enum):
    READ = "read records"
    STREAM = "stream"
    DELETE = "delete records"
    MANAGE = "manage keys and read the audit log"


GRANTS: dict[str, frozenset[Permission]] = {
    ADMIN: frozenset(Permission),
    USER: frozenset((Permission.READ, Permission.STREAM, Permission.DELETE)),
    VIEWER: frozenset((Permission.READ,)),
    OPEN: frozenset((Permission.READ, Permission.STREAM, Permission.DELETE)),
}
SEES_ALL = frozenset((ADMIN, OPEN))


@dataclass(frozen=True)
class Principal:
    """Who is calling: the operator, a stored key, a token's subject, or anyone (open mode)."""

    name: str
    role: str = USER
    owner_id: uuid.UUID | None = None  # what its records are stored under: a key's id, a subject's
    rate_limit: tuple[int, int] | None = None  # requests per seconds, overriding the default

    @property
    def owner(self) -> uuid.UUID | None:
        """The records this caller may see: its own, or (None) all of them."""
        return None if self.role in SEES_ALL else self.owner_id

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS.get(self.role, frozenset())

    def require(self, permission: Permission) -> None:
        if not self.may(permission):
            raise Forbidden(self.refusal(permission))

    def refusal(self, permission: Permission) -> str:
        if self.role == OPEN:
            return (
                "the admin API needs a key: set API_KEY, or create an admin key with `gateway keys create --role admin`"
            )
        return f"the role {self.role!r} may not {permission.value}"


OPERATOR = Principal(name="operator", role=ADMIN)
ANYONE = Principal(name="open", role=OPEN)

# A token's subject owns its records as a key does: under an id made from its issuer and subject.
SUBJECTS = uuid.UUID("6f1d3c52-3a43-4d39-9a1e-2f3b6c1f0a77")


def subject_id(issuer: str, subject: str) -> uuid.UUID:
    return uuid.uuid5(SUBJECTS, f"{issuer}\n{subject}")
