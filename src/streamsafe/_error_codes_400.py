"""The error-code classes of 400 ``invalid_request_error``: each a :class:`BadRequestError`.

One class per code the official SDK (2.15) files under 400, with the SDK's
name; the registry of every code is :mod:`streamsafe._error_codes`, the public
face :mod:`streamsafe.errors`.
"""

from __future__ import annotations

from ._errors import BadRequestError

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
