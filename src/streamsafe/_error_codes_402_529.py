"""The error-code classes of every status but 400: 402, 403, 404, 409, 412, 413, 429, 503, 529.

One class per code the official SDK (2.15) files under these statuses, with
the SDK's name, each a subclass of its status class (a 503 code is a
:class:`ServiceUnavailableError`, so an :class:`InternalServerError`); the
registry of every code is :mod:`streamsafe._error_codes`, the public face
:mod:`streamsafe.errors`.
"""

from __future__ import annotations

from ._errors import (
    ConflictError,
    ContentTooLargeError,
    NotFoundError,
    OverloadedError,
    PaymentRequiredError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    ServiceUnavailableError,
)

# --- 402 PaymentRequiredError ----------------------------------------------


class LinkedOrganizationBillingUnavailableError(PaymentRequiredError):
    error_code = "linked_organization_billing_unavailable"


class LinkedOrganizationSpendLimitReachedError(PaymentRequiredError):
    error_code = "linked_organization_spend_limit_reached"


# --- 403 PermissionDeniedError ---------------------------------------------


class APIKeyRequesterUnconfirmedError(PermissionDeniedError):
    error_code = "api_key_requester_unconfirmed"


class BetaAPIKeyScopeMissingError(PermissionDeniedError):
    error_code = "api_key_scope_missing"


class BetaCannotSignOutManagedMemberError(PermissionDeniedError):
    error_code = "cannot_sign_out_managed_member"


class BetaCannotSignOutMembershipAdminError(PermissionDeniedError):
    error_code = "cannot_sign_out_membership_admin"


class BetaCannotSignOutOwnerError(PermissionDeniedError):
    error_code = "cannot_sign_out_owner"


class BetaCannotSignOutPrivilegedMemberError(PermissionDeniedError):
    error_code = "cannot_sign_out_privileged_member"


class BetaClaudeTagWritesNotEnabledError(PermissionDeniedError):
    error_code = "claude_tag_writes_not_enabled"


class BetaComplianceConfigurationRestrictedError(PermissionDeniedError):
    error_code = "compliance_configuration_restricted"


class BetaEnvironmentCreateDisabledError(PermissionDeniedError):
    error_code = "environment_create_disabled"


class BetaEnvironmentUpdateDisabledError(PermissionDeniedError):
    error_code = "environment_update_disabled"


class BetaOrganizationLevelScopedAPIKeyRequiredError(PermissionDeniedError):
    error_code = "organization_level_scoped_api_key_required"


class SandboxEgressRestrictedError(PermissionDeniedError):
    error_code = "sandbox_egress_restricted"


class BetaSpendLimitsAdminAPIWritesNotEnabledError(PermissionDeniedError):
    error_code = "spend_limits_admin_api_writes_not_enabled"


class UserProfileBillingNotAuthorizedError(PermissionDeniedError):
    error_code = "user_profile_billing_not_authorized"


class UserProfileNotBillableError(PermissionDeniedError):
    error_code = "user_profile_not_billable"


# --- 404 NotFoundError -----------------------------------------------------


class BetaEnvironmentNotFoundError(NotFoundError):
    error_code = "environment_not_found"


class FileExpiredError(NotFoundError):
    error_code = "file_expired"


class BetaRBACGroupManagedSettingsNotFoundError(NotFoundError):
    error_code = "rbac_group_managed_settings_not_found"


class BetaRBACGroupNotFoundError(NotFoundError):
    error_code = "rbac_group_not_found"


class RBACRoleNotFoundError(NotFoundError):
    error_code = "rbac_role_not_found"


class BetaSlackChannelSetUpEnvironmentNotFoundError(NotFoundError):
    error_code = "slack_channel_set_up_environment_not_found"


class ThreadNotFoundError(NotFoundError):
    error_code = "thread_not_found"


# --- 409 ConflictError -----------------------------------------------------


class ConcurrentMembershipChangeError(ConflictError):
    error_code = "concurrent_membership_change"


class ExternalKeyChangedError(ConflictError):
    error_code = "external_key_changed"


class BetaGCPProjectControlledByAnotherOrganizationError(ConflictError):
    error_code = "gcp_project_controlled_by_another_organization"


class BetaPluginNameTakenError(ConflictError):
    error_code = "plugin_name_taken"


class BetaScanPendingError(ConflictError):
    error_code = "scan_pending"


class BetaSkillNameTakenError(ConflictError):
    error_code = "skill_name_taken"


class SkillReadBlockedUndecryptableError(ConflictError):
    error_code = "skill_read_blocked_undecryptable"


class BetaSlackChannelSetUpSettingsConflictError(ConflictError):
    error_code = "slack_channel_set_up_settings_conflict"


class BetaStorageAlreadyRegisteredError(ConflictError):
    error_code = "storage_already_registered"


class StorageAttachedDuringArchiveError(ConflictError):
    error_code = "storage_attached_during_archive"


class BetaStorageChangedConcurrentlyError(ConflictError):
    error_code = "storage_changed_concurrently"


class BetaStorageInUseError(ConflictError):
    error_code = "storage_in_use"


class BetaWorkspaceChangedConcurrentlyError(ConflictError):
    error_code = "workspace_changed_concurrently"


# --- 412 PreconditionFailedError -------------------------------------------


class BetaHeartbeatPreconditionFailedError(PreconditionFailedError):
    error_code = "heartbeat_precondition_failed"


# --- 413 ContentTooLargeError ----------------------------------------------


class RequestBodyTooLargeAfterDecodingError(ContentTooLargeError):
    error_code = "request_body_too_large_after_decoding"


# --- 429 RateLimitError ----------------------------------------------------


class ContractSpendLimitReachedError(RateLimitError):
    error_code = "contract_spend_limit_reached"


class EnforcedSpendLimitReachedError(RateLimitError):
    error_code = "enforced_spend_limit_reached"


class RampLimitExceededError(RateLimitError):
    error_code = "ramp_limit_exceeded"


# --- 503 ServiceUnavailableError (an InternalServerError) ------------------


class BetaAuthorizationCheckUnavailableError(ServiceUnavailableError):
    error_code = "authorization_check_unavailable"


class ChangeOutcomeUnknownError(ServiceUnavailableError):
    error_code = "change_outcome_unknown"


class CMEKContextUnavailableError(ServiceUnavailableError):
    error_code = "cmek_context_unavailable"


class CMEKKeyUnreachableError(ServiceUnavailableError):
    error_code = "cmek_key_unreachable"


class BetaRegistrationPendingError(ServiceUnavailableError):
    error_code = "registration_pending"


class WorkspaceCreatedIncompleteError(ServiceUnavailableError):
    error_code = "workspace_created_incomplete"


# --- 529 OverloadedError (an InternalServerError) --------------------------


class CompactionUnavailableError(OverloadedError):
    error_code = "compaction_unavailable"
