"""The error-code classes: one per ``(HTTP status, error.details.error_code)``.

The API names the cause of many errors with a stable code in
``error.details.error_code`` (``{"type": "rate_limit_error", "message": ...,
"details": {"error_code": "ramp_limit_exceeded"}}``). Each code the official
Python SDK knows (2.15, its ``ERROR_CLASSES`` table) has a class here, with
the SDK's name, under the status class the SDK puts it (a 429 code is a
:class:`RateLimitError`, a 503 code a :class:`ServiceUnavailableError`), so
``except streamsafe.errors.RampLimitExceededError`` catches what
``except anthropic.RampLimitExceededError`` does, over HTTP and mid-stream.

Each class declares only its ``error_code``; its status (``default_status``)
and its ``retryable`` rule come from its status class. :data:`ERROR_CODE_CLASSES`
is built from the classes, so each code is written once. A code missing here
(a new one) keeps the class of its error type or status.
Many names start with ``Beta``: the SDK's own names, kept for migration.
The public face is :mod:`streamsafe.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._errors import (
    APIStatusError,
    BadRequestError,
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

# --- 400 BadRequestError ---------------------------------------------------


class AlreadyMemberError(BadRequestError):
    error_code = "already_member"


class BetaApprovalRequiredError(BadRequestError):
    error_code = "approval_required"


class AvailableToolsLimitExceededError(BadRequestError):
    error_code = "available_tools_limit_exceeded"


class BetaBundleAttachmentNotSupportedError(BadRequestError):
    error_code = "bundle_attachment_not_supported"


class BetaBundleOnCallError(BadRequestError):
    error_code = "bundle_on_call"


class CannotInviteEmailsWithUnverifiedDomainsError(BadRequestError):
    error_code = "cannot_invite_emails_with_unverified_domains"


class CannotRemoveLastMemberError(BadRequestError):
    error_code = "cannot_remove_last_member"


class BetaCannotSignOutPrimaryOwnerError(BadRequestError):
    error_code = "cannot_sign_out_primary_owner"


class BetaCannotSignOutSelfError(BadRequestError):
    error_code = "cannot_sign_out_self"


class ClaudeCodeKeyCreatorNotMemberError(BadRequestError):
    error_code = "claude_code_key_creator_not_member"


class ClaudeCodeVersionTooOldError(BadRequestError):
    error_code = "claude_code_version_too_old"


class BetaCMEKFeatureUnsupportedError(BadRequestError):
    error_code = "cmek_feature_unsupported"


class CMEKKeyDisabledError(BadRequestError):
    error_code = "cmek_key_disabled"


class CMEKKeyNetworkBlockedError(BadRequestError):
    error_code = "cmek_key_network_blocked"


class BetaCMEKNotApprovedError(BadRequestError):
    error_code = "cmek_not_approved"


class CompactionBlockAmbiguousError(BadRequestError):
    error_code = "compaction_block_ambiguous"


class CompactionBlockMisplacedError(BadRequestError):
    error_code = "compaction_block_misplaced"


class CompactionContentMismatchError(BadRequestError):
    error_code = "compaction_content_mismatch"


class CompactionIncompleteTurnError(BadRequestError):
    error_code = "compaction_incomplete_turn"


class CompactionNothingToSummarizeError(BadRequestError):
    error_code = "compaction_nothing_to_summarize"


class CompactionSignatureInvalidError(BadRequestError):
    error_code = "compaction_signature_invalid"


class CompactionTooManyToolReferencesError(BadRequestError):
    error_code = "compaction_too_many_tool_references"


class CompactionToolChangesMismatchError(BadRequestError):
    error_code = "compaction_tool_changes_mismatch"


class EmailDomainNotAllowedError(BadRequestError):
    error_code = "email_domain_not_allowed"


class BetaEnvironmentArchivedError(BadRequestError):
    error_code = "environment_archived"


class ExternalKeyInWorkspacePolicyError(BadRequestError):
    error_code = "external_key_in_workspace_policy"


class BetaExternalKeyNotFoundError(BadRequestError):
    error_code = "external_key_not_found"


class BetaExternalKeyProviderMismatchError(BadRequestError):
    error_code = "external_key_provider_mismatch"


class ExternalKeyValidationFailedError(BadRequestError):
    error_code = "external_key_validation_failed"


class ExternalKeyValidationTimedOutError(BadRequestError):
    error_code = "external_key_validation_timed_out"


class BetaExternalStorageInUseError(BadRequestError):
    error_code = "external_storage_in_use"


class BetaExternalStorageInWorkspacePolicyError(BadRequestError):
    error_code = "external_storage_in_workspace_policy"


class BetaExternalStorageNotAvailableError(BadRequestError):
    error_code = "external_storage_not_available"


class FileNotDownloadableError(BadRequestError):
    error_code = "file_not_downloadable"


class BetaGCPProjectNotVerifiedError(BadRequestError):
    error_code = "gcp_project_not_verified"


class BetaGrantRequiredError(BadRequestError):
    error_code = "grant_required"


class BetaHumanReviewNotAvailableError(BadRequestError):
    error_code = "human_review_not_available"


class BetaHumanReviewOnWithExternalStorageError(BadRequestError):
    error_code = "human_review_on_with_external_storage"


class ImageDimensionsTooLargeError(BadRequestError):
    error_code = "image_dimensions_too_large"


class BetaInvalidConfigTypeChangeError(BadRequestError):
    error_code = "invalid_config_type_change"


class BetaInvalidMetadataError(BadRequestError):
    error_code = "invalid_metadata"


class BetaInvalidStorageARNError(BadRequestError):
    error_code = "invalid_storage_arn"


class InviteAlreadyExistsError(BadRequestError):
    error_code = "invite_already_exists"


class KeyProfileMismatchError(BadRequestError):
    error_code = "key_profile_mismatch"


class OrgAPIKeyLimitExceededError(BadRequestError):
    error_code = "org_api_key_limit_exceeded"


class OrgMemberLimitExceededError(BadRequestError):
    error_code = "org_member_limit_exceeded"


class BetaOrganizationNotEligibleError(BadRequestError):
    error_code = "organization_not_eligible"


class BetaOrganizationNotEnrolledInBetaError(BadRequestError):
    error_code = "organization_not_enrolled_in_beta"


class OrganizationOnHoldError(BadRequestError):
    error_code = "organization_on_hold"


class OrganizationTypeNotSupportedError(BadRequestError):
    error_code = "organization_type_not_supported"


class ParentOrganizationRequiredError(BadRequestError):
    error_code = "parent_organization_required"


class BetaProviderNotAllowedError(BadRequestError):
    error_code = "provider_not_allowed"


class RBACGroupGrantsOwnerAccessError(BadRequestError):
    error_code = "rbac_group_grants_owner_access"


class BetaRBACGroupOrderLimitExceededError(BadRequestError):
    error_code = "rbac_group_order_limit_exceeded"


class RBACGroupOwnerAccessUnconfirmedError(BadRequestError):
    error_code = "rbac_group_owner_access_unconfirmed"


class BetaRegionNotSupportedError(BadRequestError):
    error_code = "region_not_supported"


class BetaReportPageTooLargeError(BadRequestError):
    error_code = "report_page_too_large"


class RequestBodyEncodingInvalidError(BadRequestError):
    error_code = "request_body_encoding_invalid"


class RequestBodyEncodingUnsupportedError(BadRequestError):
    error_code = "request_body_encoding_unsupported"


class BetaRequestBodyTimeoutError(BadRequestError):
    error_code = "request_body_timeout"


class BetaScanFailedError(BadRequestError):
    error_code = "scan_failed"


class BetaSettingsDocumentLimitExceededError(BadRequestError):
    error_code = "settings_document_limit_exceeded"


class BetaSettingsHistoryLimitExceededError(BadRequestError):
    error_code = "settings_history_limit_exceeded"


class BetaSlackChannelSetUpSettingsRefusedError(BadRequestError):
    error_code = "slack_channel_set_up_settings_refused"


class BetaStorageAttachLimitReachedError(BadRequestError):
    error_code = "storage_attach_limit_reached"


class BetaStorageNotApprovedError(BadRequestError):
    error_code = "storage_not_approved"


class BetaStorageNotAttachableError(BadRequestError):
    error_code = "storage_not_attachable"


class StorageProfileMismatchError(BadRequestError):
    error_code = "storage_profile_mismatch"


class BetaStorageProfileStillRequiredError(BadRequestError):
    error_code = "storage_profile_still_required"


class StorageQuotaExceededError(BadRequestError):
    error_code = "storage_quota_exceeded"


class BetaStorageVerificationFailedError(BadRequestError):
    error_code = "storage_verification_failed"


class ThreadAlreadyContinuedError(BadRequestError):
    error_code = "thread_already_continued"


class ThreadContinueInFlightError(BadRequestError):
    error_code = "thread_continue_in_flight"


class ThreadFingerprintMismatchError(BadRequestError):
    error_code = "thread_fingerprint_mismatch"


class ThreadUnsupportedRequestError(BadRequestError):
    error_code = "thread_unsupported_request"


class BetaTooManyReportGroupsError(BadRequestError):
    error_code = "too_many_report_groups"


class ToolNameConflictError(BadRequestError):
    error_code = "tool_name_conflict"


class ToolReferenceUnresolvedError(BadRequestError):
    error_code = "tool_reference_unresolved"


class BetaTranscriptsStorageRequiredError(BadRequestError):
    error_code = "transcripts_storage_required"


class BetaUnsupportedCharsetError(BadRequestError):
    error_code = "unsupported_charset"


class BetaUnsupportedRegionError(BadRequestError):
    error_code = "unsupported_region"


class UserProfileClearedError(BadRequestError):
    error_code = "user_profile_cleared"


class UserProfileNotFoundError(BadRequestError):
    error_code = "user_profile_not_found"


class UserProfileRequiredError(BadRequestError):
    error_code = "user_profile_required"


class WorkspaceAPIKeyLimitExceededError(BadRequestError):
    error_code = "workspace_api_key_limit_exceeded"


class WorkspaceHumanReviewDisabledError(BadRequestError):
    error_code = "workspace_human_review_disabled"


class WorkspaceMemberLimitExceededError(BadRequestError):
    error_code = "workspace_member_limit_exceeded"


class WorkspacePolicyViolationError(BadRequestError):
    error_code = "workspace_policy_violation"


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


def _code_classes() -> dict[tuple[int, str], type[APIStatusError]]:
    """Every class defined above, by its ``(default_status, error_code)``."""
    table: dict[tuple[int, str], type[APIStatusError]] = {}
    for value in list(globals().values()):
        if (
            isinstance(value, type)
            and issubclass(value, APIStatusError)
            and value.__module__ == __name__
        ):
            status, code = value.default_status, value.error_code
            if status is None or code is None:  # pragma: no cover - every class has both
                raise TypeError(f"{value.__name__} needs a status and an error_code")
            if (status, code) in table:  # pragma: no cover - a copy-paste slip
                raise TypeError(f"{value.__name__} repeats ({status}, {code!r})")
            table[status, code] = value
    return table


#: ``(status, error_code)`` → the class, for :func:`streamsafe._errors.status_error_class`.
ERROR_CODE_CLASSES: Mapping[tuple[int, str], type[APIStatusError]] = _code_classes()


def _by_code() -> dict[str, type[APIStatusError] | None]:
    table: dict[str, type[APIStatusError] | None] = {}
    for (_, code), cls in ERROR_CODE_CLASSES.items():
        table[code] = None if code in table else cls  # a code under two statuses: ambiguous
    return table


_BY_CODE = _by_code()


def for_code(error_code: str) -> type[APIStatusError] | None:
    """The class of a code, whatever its status; ``None`` if unknown or under several statuses."""
    return _BY_CODE.get(error_code)
