"""Identity domain: aggregates and errors. Pure Python + eventsourcing.

Stored event topics are ``services.identity.domain.<module>:<Aggregate>.<Event>``;
moving a class needs ``eventsourcing.utils.register_topic`` aliases for old events.
"""

from services.identity.domain.account import Account
from services.identity.domain.deletions import PendingDeletions
from services.identity.domain.email_index import EmailIndex
from services.identity.domain.errors import (
    AccountDeleted,
    AccountNotFound,
    EmailAlreadyInUse,
    FourEyesRequired,
    GrantRequestExpired,
    GrantRequestNotFound,
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
from services.identity.domain.personal_data import PersonalData
from services.identity.domain.session import Session
from services.identity.domain.values import (
    ALL_SERVICES,
    APPLICANT_KINDS,
    KINDS,
    ROLES,
    STAFF_KINDS,
    TRUST_LEVELS,
    email_index_id,
    normalise_email,
    trust_rank,
)

__all__ = [
    "ALL_SERVICES",
    "APPLICANT_KINDS",
    "KINDS",
    "ROLES",
    "STAFF_KINDS",
    "TRUST_LEVELS",
    "Account",
    "AccountDeleted",
    "AccountNotFound",
    "EmailAlreadyInUse",
    "EmailIndex",
    "FourEyesRequired",
    "GrantRequestExpired",
    "GrantRequestNotFound",
    "IdentityError",
    "InvalidCredentials",
    "InvalidEmail",
    "InvalidGrant",
    "InvalidInput",
    "NotPermitted",
    "OneTimeTokenInvalid",
    "PasswordRejected",
    "PendingDeletions",
    "PersonalData",
    "RefreshTokenReused",
    "Session",
    "SessionInvalid",
    "email_index_id",
    "normalise_email",
    "trust_rank",
]
