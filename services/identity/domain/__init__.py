"""Identity domain: aggregates and errors. Pure Python + eventsourcing.

Stored event topics are ``services.identity.domain.<module>:<Aggregate>.<Event>``;
moving a class needs ``eventsourcing.utils.register_topic`` aliases for old events.
"""

from .account import Account
from .email_index import EmailIndex
from .errors import (
    AccountDeleted,
    AccountNotFound,
    EmailAlreadyInUse,
    IdentityError,
    InvalidCredentials,
    InvalidEmail,
    InvalidGrant,
    InvalidInput,
    NotPermitted,
    OneTimeTokenInvalid,
    PasswordRejected,
    RefreshTokenReused,
    SessionInvalid,
)
from .personal_data import PersonalData
from .session import Session
from .values import (
    ALL_SERVICES,
    KINDS,
    ROLES,
    SELF_SERVICE_KINDS,
    STAFF_KINDS,
    TRUST_LEVELS,
    email_index_id,
    normalise_email,
    trust_rank,
)

__all__ = [
    "ALL_SERVICES",
    "KINDS",
    "ROLES",
    "SELF_SERVICE_KINDS",
    "STAFF_KINDS",
    "TRUST_LEVELS",
    "Account",
    "AccountDeleted",
    "AccountNotFound",
    "EmailAlreadyInUse",
    "EmailIndex",
    "IdentityError",
    "InvalidCredentials",
    "InvalidEmail",
    "InvalidGrant",
    "InvalidInput",
    "NotPermitted",
    "OneTimeTokenInvalid",
    "PasswordRejected",
    "PersonalData",
    "RefreshTokenReused",
    "Session",
    "SessionInvalid",
    "email_index_id",
    "normalise_email",
    "trust_rank",
]
