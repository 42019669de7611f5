/** Kysely table types, matching storage/migrations. */
import type { ColumnType, Generated, Selectable } from 'kysely';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string | undefined, string>;

export type UserState = 'ACTIVE' | 'SUSPENDED';
export type UserRole = 'OWNER' | 'ADMIN' | 'MEMBER';
/** `console`: the web console's cookie session, refused as a Bearer token by the API. */
export type SessionKind = 'web' | 'cli' | 'api' | 'console';
export type AuditOutcome = 'changed' | 'unchanged' | 'refused' | 'read';

export interface AccountsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface UsersTable {
  account_id: string;
  id: string;
  email: string;
  display_name: string;
  state: ColumnType<UserState, UserState | undefined, UserState>;
  role: ColumnType<UserRole, UserRole | undefined, UserRole>;
  externally_managed: ColumnType<boolean, boolean | undefined, boolean>;
  password_hash: ColumnType<string | null, string | null | undefined, string | null>;
  totp_secret_enc: ColumnType<string | null, string | null | undefined, string | null>;
  totp_last_step: ColumnType<number, number | undefined, number>;
  sign_in_failures: ColumnType<number, number | undefined, number>;
  sign_in_blocked_until: NullableTimestamp;
  /** The password was generated (shown to whoever made it): it must be changed before anything else. */
  password_change_required: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface GroupsTable {
  account_id: string;
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface GroupMembersTable {
  account_id: string;
  group_id: string;
  user_id: string;
  created_at: CreatedAt;
}

export interface SessionsTable {
  account_id: string;
  id: string;
  user_id: string;
  kind: SessionKind;
  created_at: CreatedAt;
  last_seen_at: Timestamp;
  revoked_at: NullableTimestamp;
  revoke_reason: ColumnType<string | null, string | null | undefined, string | null>;
  /** SHA-256 of a sign-in session's opaque token; null for sessions opened otherwise. */
  token_hash: ColumnType<string | null, string | null | undefined, string | null>;
  expires_at: NullableTimestamp;
}

export interface AuditLogsTable {
  account_id: string;
  size: ColumnType<number, number | undefined, number>;
  /** Entries the Merkle tree covers (≤ size). */
  tree_size: ColumnType<number, number | undefined, number>;
  updated_at: Timestamp;
}

interface AuditEntryColumns {
  account_id: string;
  entry_id: Generated<number>;
  recorded_at: CreatedAt;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  cause: Json<Record<string, unknown>>;
  authz: Json<Record<string, unknown>>;
  outcome: AuditOutcome;
  details: Json<Record<string, unknown>>;
}

/** Committed entries waiting for their index. */
export type AuditInboxTable = AuditEntryColumns;

/** Numbered entries: insert-only. */
export interface AuditEntriesTable extends AuditEntryColumns {
  idx: number;
  sequenced_at: CreatedAt;
}

export interface AuditTreeNodesTable {
  account_id: string;
  level: number;
  idx: number;
  hash: Buffer;
}

export interface AuditCheckpointsTable {
  account_id: string;
  size: number;
  root: Buffer;
  note: string;
  signed_at: CreatedAt;
}

export interface CheckpointKeysTable {
  name: string;
  private_key_enc: string;
  created_at: CreatedAt;
}

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

export interface OAuthAppsTable {
  account_id: string;
  id: string;
  client_id: string;
  name: string;
  permissions: string[];
  auth_method: AuthMethod;
  jwks: ColumnType<{ keys: Record<string, unknown>[] } | null, string | null | undefined, string | null>;
  dpop_required: ColumnType<boolean, boolean | undefined, boolean>;
  allowed_group_ids: ColumnType<string[], string[] | undefined, string[]>;
  protected_roles: ColumnType<string[], string[] | undefined, string[]>;
  max_suspensions_per_hour: ColumnType<number | null, number | null | undefined, number | null>;
  secret_hash: ColumnType<string | null, string | null | undefined, string | null>;
  secret_rotated_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
  disabled_at: NullableTimestamp;
  /** Tokens issued before it are refused (a leaked secret's containment, 0030-nhi-containment.ts). */
  tokens_not_before: NullableTimestamp;
  /** The person who made the app (null: the operator), and their role then. */
  created_by: ColumnType<string | null, string | null | undefined, never>;
  created_by_role: ColumnType<UserRole | null, UserRole | null | undefined, never>;
}

export interface SigningKeysTable {
  kid: string;
  alg: 'ES256';
  public_jwk: Json<Record<string, unknown>>;
  private_key_enc: string;
  created_at: CreatedAt;
  retired_at: NullableTimestamp;
  /** Set when the key leaked: its tokens stop working at once (a retired key's verify until they expire). */
  revoked_at: NullableTimestamp;
}

export interface RevokedTokensTable {
  account_id: string;
  jti: string;
  client_id: string;
  revoked_at: CreatedAt;
  expires_at: Date;
}

export interface ClientAssertionJtisTable {
  account_id: string;
  client_id: string;
  jti: string;
  expires_at: Date;
}

export interface DpopProofJtisTable {
  jkt: string;
  jti: string;
  expires_at: Date;
}

/** One suspension made by an app, for its per-hour cap. */
export interface AppSuspensionsTable {
  account_id: string;
  app_id: string;
  user_id: string;
  at: ColumnType<Date, Date | undefined, never>;
}

export type SignalFormat = 'canonical' | 'ocsf' | 'ecs' | 'splunk' | 'azure';
export type SourceAuth = 'oauth' | 'hmac' | 'url_token';

export interface SignalSourcesTable {
  account_id: string;
  id: string;
  name: string;
  format: SignalFormat;
  auth: SourceAuth;
  client_id: string | null;
  secret_enc: string | null;
  token_hash: string | null;
  /** hmac sources made since migration 0029: the SHA-256 hex of the secret, so a leak report can find it. */
  secret_hash: ColumnType<string | null, string | null | undefined, never>;
  /** The confidence of this source's alerts that carry none; null: the format's default. */
  default_confidence: ColumnType<number | null, number | null | undefined, never>;
  created_at: CreatedAt;
  disabled_at: NullableTimestamp;
}

export interface SignalSourceReplaysTable {
  account_id: string;
  source_id: string;
  signature_hash: string;
  expires_at: Date;
}

export interface SignalsTable {
  account_id: string;
  id: string;
  source_id: string;
  external_id: string;
  type: string;
  title: string;
  severity: string;
  confidence: number;
  subject: Json<Record<string, string>>;
  tags: string[];
  observed_at: Date | string;
  received_at: CreatedAt;
  raw: Json<unknown>;
  raw_truncated: boolean;
  /** What the alert said besides subject and type (intake/signal.ts CanonicalSignal.attributes). */
  attributes: Json<Record<string, string>>;
  false_positive_at: ColumnType<Date | null, never, Date | string | null>;
}

interface VersionedDocumentColumns {
  account_id: string;
  version: number;
  content_hash: string;
  document: Json<Record<string, unknown>>;
  created_at: CreatedAt;
  created_by: string;
}

export interface PlaybooksTable extends VersionedDocumentColumns {
  name: string;
}

export type ProtectionPoliciesTable = VersionedDocumentColumns;

export interface AutomationSettingsTable {
  account_id: string;
  paused_at: NullableTimestamp;
  paused_by: string | null;
  pause_reason: string | null;
  breaker_max_actions: number | null;
  breaker_window_seconds: number | null;
  restore_approvals: ColumnType<number, number | undefined, number>;
  approver_group_id: string | null;
  updated_at: Timestamp;
}

export interface BreakersTable {
  account_id: string;
  scope: string;
  tripped_at: CreatedAt;
  trip_plan_id: string;
  max_actions: number;
  window_seconds: number;
}

export interface BreakerSlotsTable {
  account_id: string;
  scope: string;
  slot: number;
  used_at: Date | null;
  plan_id: string | null;
}

export type PlanStatus =
  | 'executed'
  | 'pending_approval'
  | 'refused'
  | 'duplicate'
  | 'no_action'
  | 'notified'
  | 'failed'
  | 'denied'
  | 'expired'
  | 'void';

export interface PlansTable {
  account_id: string;
  id: string;
  signal_id: string | null;
  subject_user_id: string | null;
  playbook_name: string | null;
  playbook_version: number | null;
  policy_version: number;
  action: PlanAction;
  mode: 'auto' | 'approval' | null;
  approvals_required: number;
  status: PlanStatus;
  action_digest: string | null;
  verdicts: Json<unknown[]>;
  restore_after_seconds: number | null;
  held_by: ColumnType<string[], string[] | undefined, string[]>;
  created_at: CreatedAt;
  executed_at: NullableTimestamp;
  /** Who asked: a signal's submitter, or whoever requested a restore (never an approver of it). */
  requested_by: Json<{ type: string; id: string }> | null;
  expires_at: NullableTimestamp;
  decided_at: NullableTimestamp;
  lock_containment: boolean;
  containment_id: string | null;
  restore_reason: string | null;
  /** The non-human subject (a leaked secret's owner) of a plan that has no user (0030-nhi-containment.ts). */
  subject_nhi: ColumnType<NhiSubject | null, string | null | undefined, string | null>;
}

/** What a plan does: to a user (suspend), to a non-human identity (the next three), or nothing but record. */
export type PlanAction = 'suspend' | 'notify' | 'none' | 'restore' | NhiAction;
export type NhiAction = 'disable_app' | 'rotate_secret' | 'revoke_tokens';

/**
 * A non-human identity: the owner of a leaked secret (response/nhi.ts). An app (by its client secret or
 * one of its events tokens, `credential`), a signal source, or a person's session (`user_id` is theirs).
 */
export interface NhiSubject {
  type: 'app' | 'source' | 'session';
  id: string;
  /** The leaked secret's SHA-256 hex. */
  token_hash: string;
  /** Its kind (secret-format.ts): cs, st, sh, sess, or et for an events token. */
  kind: string;
  credential?: { type: 'events_token'; id: string };
  user_id?: string;
}

export interface PlanApprovalsTable {
  account_id: string;
  plan_id: string;
  approver_id: string;
  decision: 'approve' | 'deny';
  reason: string;
  action_digest: string;
  session_id: string;
  created_at: CreatedAt;
}

/** What a suspension changed and revoked, kept to restore from and to report drift against. */
export interface ContainmentSnapshot {
  state: UserState;
  role: UserRole;
  group_ids: string[];
  sessions_revoked: string[];
}

export type ContainmentCloseReason = 'restored' | 'false_positive' | 'reactivated' | 'released' | 'deleted';

export interface ContainmentsTable {
  account_id: string;
  id: string;
  /** Null for a non-human identity's record (subject_nhi). */
  user_id: string | null;
  plan_id: string | null;
  locked: boolean;
  snapshot: Json<ContainmentSnapshot>;
  cause: Json<Record<string, unknown>>;
  opened_by: Json<Record<string, unknown>>;
  opened_at: CreatedAt;
  restore_after: NullableTimestamp;
  restore_requested_at: NullableTimestamp;
  status: ColumnType<'open' | 'closed', 'open' | 'closed' | undefined, 'open' | 'closed'>;
  close_reason: ContainmentCloseReason | null;
  closed_by: Json<Record<string, unknown>> | null;
  closed_at: NullableTimestamp;
  /** Null when the record has no remote step (0022-targets.ts). */
  targets_state: ColumnType<TargetsState | null, TargetsState | null | undefined, TargetsState | null>;
  /** A non-human identity's record (0030-nhi-containment.ts): its subject, action and what it did. */
  subject_nhi: ColumnType<NhiSubject | null, string | null | undefined, string | null>;
  action: NhiAction | null;
  details: Json<Record<string, unknown>>;
  /** The new secret it made, sealed, until an OWNER or ADMIN reads it once. */
  secret_enc: string | null;
}

/** Where a containment's remote steps stand: while open, then once restored. */
export type TargetsState = 'in_progress' | 'contained' | 'partial' | 'restoring' | 'restored' | 'restore_partial';

export type TargetKind = 'onepassword' | 'scim' | 'gtr';

export interface TargetsTable {
  account_id: string;
  id: string;
  name: string;
  kind: TargetKind;
  /** What is not secret: the base URL, API version, remote account, how it authenticates. */
  config: Json<Record<string, unknown>>;
  /** Sealed JSON (label `target:<account>:<id>`): never returned after creation. */
  credentials: string;
  credentials_rotated_at: NullableTimestamp;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  max_concurrency: ColumnType<number, number | undefined, number>;
  max_rate_per_second: ColumnType<number, number | undefined, number>;
  step_deadline_seconds: ColumnType<number, number | undefined, number>;
  sync_interval_seconds: ColumnType<number, number | undefined, number>;
  created_by: Json<Record<string, unknown>>;
  created_at: CreatedAt;
  last_sync_at: NullableTimestamp;
  last_sync_error: string | null;
  sync_lease_until: NullableTimestamp;
  /** When the last scheduled walk failed (0023): the schedule waits before the next; null once one succeeds. */
  sync_failed_at: NullableTimestamp;
  removed_at: NullableTimestamp;
}

export type IdentityState = 'ACTIVE' | 'SUSPENDED' | 'UNKNOWN';

export interface TargetIdentitiesTable {
  account_id: string;
  target_id: string;
  external_id: string;
  email: string | null;
  user_name: string | null;
  display_name: string | null;
  state: IdentityState;
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type StepOperation = 'suspend' | 'reactivate';
export type StepStatus = 'pending' | 'verified' | 'failed' | 'protected' | 'gone' | 'cancelled';

export interface TargetStepsTable {
  account_id: string;
  id: string;
  containment_id: string;
  plan_id: string | null;
  target_id: string;
  operation: StepOperation;
  /** The subject's hints to resolve the identity by: { email, user_name, external_id, user_id }. */
  subject: Json<Record<string, unknown>>;
  external_id: string | null;
  status: ColumnType<StepStatus, StepStatus | undefined, StepStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  attempt_open: ColumnType<boolean, boolean | undefined, boolean>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  lease_owner: string | null;
  lease_until: NullableTimestamp;
  deadline_at: ColumnType<Date, Date | string, Date | string>;
  observed_state: string | null;
  drift: Json<Record<string, unknown>> | null;
  last_error: Json<Record<string, unknown>> | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export type WebhookFormat = 'standard' | 'slack';
export type DeliveryState = 'pending' | 'delivering' | 'delivered' | 'failed' | 'dropped';

/** A webhook subscription (0025): its secret sealed (label `webhook:<account>:<id>`), never shown after creation. */
export interface WebhookSubscriptionsTable {
  account_id: string;
  id: string;
  url: string;
  events: string[];
  format: WebhookFormat;
  secret: string;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  disabled_reason: string | null;
  consecutive_failures: ColumnType<number, number | undefined, number>;
  created_by: Json<Record<string, unknown>>;
  created_at: CreatedAt;
  removed_at: NullableTimestamp;
}

/** One event fanned out from one audit entry; its id is the `webhook-id` of every attempt. */
export interface WebhookMessagesTable {
  account_id: string;
  id: string;
  event_type: string;
  audit_idx: ColumnType<string, number | string, never>;
  payload: string;
  slack_payload: string | null;
  created_at: CreatedAt;
}

export interface WebhookDeliveriesTable {
  account_id: string;
  id: string;
  message_id: string;
  subscription_id: string;
  state: ColumnType<DeliveryState, DeliveryState | undefined, DeliveryState>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  lease_owner: string | null;
  lease_until: NullableTimestamp;
  give_up_at: ColumnType<Date, Date | string, Date | string>;
  last_error: string | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export interface WebhookAttemptsTable {
  account_id: string;
  delivery_id: string;
  attempt: number;
  attempted_at: Date | string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
}

/** A bearer for the Events API feed (migration 0027); trusted only through this row. */
export interface EventsTokensTable {
  account_id: string;
  id: string;
  app_id: string;
  token_hash: string;
  features: string[];
  audience: string;
  created_at: Generated<Date>;
  created_by: string | null;
  revoked_at: Date | null;
}

/** Leak reports accepted, by the hash of their normalised signature and body, for the replay window. */
export interface SecretScanningReplaysTable {
  report_hash: string;
  expires_at: Date;
}

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  sessions: SessionsTable;
  audit_logs: AuditLogsTable;
  audit_inbox: AuditInboxTable;
  audit_entries: AuditEntriesTable;
  audit_tree_nodes: AuditTreeNodesTable;
  audit_checkpoints: AuditCheckpointsTable;
  checkpoint_keys: CheckpointKeysTable;
  oauth_apps: OAuthAppsTable;
  signing_keys: SigningKeysTable;
  revoked_tokens: RevokedTokensTable;
  client_assertion_jtis: ClientAssertionJtisTable;
  dpop_proof_jtis: DpopProofJtisTable;
  app_suspensions: AppSuspensionsTable;
  signal_sources: SignalSourcesTable;
  signals: SignalsTable;
  signal_source_replays: SignalSourceReplaysTable;
  playbooks: PlaybooksTable;
  protection_policies: ProtectionPoliciesTable;
  automation_settings: AutomationSettingsTable;
  breakers: BreakersTable;
  breaker_slots: BreakerSlotsTable;
  plans: PlansTable;
  plan_approvals: PlanApprovalsTable;
  containments: ContainmentsTable;
  targets: TargetsTable;
  target_identities: TargetIdentitiesTable;
  target_steps: TargetStepsTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  webhook_messages: WebhookMessagesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  events_tokens: EventsTokensTable;
  secret_scanning_replays: SecretScanningReplaysTable;
}

export type Account = Selectable<AccountsTable>;
export type User = Selectable<UsersTable>;
export type Group = Selectable<GroupsTable>;
export type Session = Selectable<SessionsTable>;
/** An entry as listed with the ones still waiting in the inbox (no index yet). */
export type AuditRecord = Selectable<AuditInboxTable> & { idx: number | null; sequenced_at: Date | null };
export type OAuthApp = Selectable<OAuthAppsTable>;
