/// The PostgreSQL store's tables: the SQLite store's, one row per event and per message (no batch
/// rows or segments: several hosts claim single rows with `FOR UPDATE SKIP LOCKED`).
extension PostgresStore {
    static let schema = """
        CREATE TABLE IF NOT EXISTS async_events (
            request_id text PRIMARY KEY,
            function_name text NOT NULL,
            qualifier text NOT NULL,
            payload bytea NOT NULL,
            received_at bigint NOT NULL,
            invoke_count bigint NOT NULL,
            requeue_count bigint NOT NULL,
            due_at bigint NOT NULL,
            lane bigint NOT NULL,            -- 0 fresh, 1 retry or re-queue
            chain_depth bigint NOT NULL DEFAULT 0,
            failure_kind text, error_type text, error_message text, stack_trace text,
            lease_owner text,
            lease_until bigint NOT NULL DEFAULT 0
        );
        -- Claims read unleased events by lane and due time, and expired leases by expiry; a host
        -- renews every lease it holds by owner.
        CREATE INDEX IF NOT EXISTS async_events_claimable ON async_events (lane, due_at) WHERE lease_owner IS NULL;
        CREATE INDEX IF NOT EXISTS async_events_leased ON async_events (lease_until) WHERE lease_owner IS NOT NULL;
        CREATE INDEX IF NOT EXISTS async_events_owner ON async_events (lease_owner) WHERE lease_owner IS NOT NULL;
        CREATE TABLE IF NOT EXISTS failed_events (
            id bigserial UNIQUE,
            request_id text PRIMARY KEY,
            function_name text NOT NULL, qualifier text NOT NULL, payload bytea NOT NULL,
            received_at bigint NOT NULL, invoke_count bigint NOT NULL,
            condition text NOT NULL, record text NOT NULL, finished_at bigint NOT NULL,
            redriven_at bigint
        );
        CREATE TABLE IF NOT EXISTS undeliverable_records (
            id bigserial PRIMARY KEY,
            request_id text NOT NULL, destination text NOT NULL, reason text NOT NULL, record text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS queues (
            name text PRIMARY KEY,
            visibility_timeout bigint NOT NULL DEFAULT 30,
            retention bigint NOT NULL DEFAULT 345600,
            delay bigint NOT NULL DEFAULT 0,
            maximum_size bigint NOT NULL DEFAULT 1048576,
            receive_wait bigint NOT NULL DEFAULT 0,
            dead_letter_queue text,
            max_receive_count bigint,
            created_at bigint NOT NULL DEFAULT 0,
            modified_at bigint NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS queue_messages (
            seq bigserial PRIMARY KEY,
            queue text NOT NULL,
            message_id text NOT NULL,
            body bytea NOT NULL,
            attributes text NOT NULL,
            sent_at bigint NOT NULL,
            visible_at bigint NOT NULL,
            receive_count bigint NOT NULL DEFAULT 0,
            receipt_handle text,
            first_received_at bigint
        );
        CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, seq);
        CREATE INDEX IF NOT EXISTS queue_messages_sent ON queue_messages (queue, sent_at);
        CREATE INDEX IF NOT EXISTS queue_messages_receipts ON queue_messages (receipt_handle) WHERE receipt_handle IS NOT NULL;
        CREATE INDEX IF NOT EXISTS queue_messages_received ON queue_messages (queue, visible_at) WHERE receive_count > 0;
        CREATE TABLE IF NOT EXISTS function_definitions (
            name text PRIMARY KEY,
            definition text NOT NULL,
            code bytea NOT NULL,
            modified_at bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS http_outbox (
            id bigserial PRIMARY KEY,
            url text NOT NULL,
            body bytea NOT NULL,
            headers text NOT NULL,
            request_id text NOT NULL,
            function_name text,
            origin text NOT NULL,
            attempts bigint NOT NULL DEFAULT 0,
            due_at bigint NOT NULL,
            lease_owner text,
            lease_until bigint NOT NULL DEFAULT 0,
            last_error text,
            undeliverable_at bigint,
            created_at bigint NOT NULL
        );
        CREATE INDEX IF NOT EXISTS http_outbox_due ON http_outbox (due_at) WHERE undeliverable_at IS NULL;
        CREATE TABLE IF NOT EXISTS messaging_definitions (
            kind text NOT NULL,
            arn text NOT NULL,
            definition text NOT NULL,
            PRIMARY KEY (kind, arn)
        );
        -- A put locks its stream's row while it takes sequence numbers, until it commits: puts
        -- commit in sequence order, so a reader never sees a later record before an earlier one.
        CREATE TABLE IF NOT EXISTS streams (
            name text PRIMARY KEY,
            shard_count bigint NOT NULL,
            retention_hours bigint NOT NULL,
            created_at bigint NOT NULL,
            next_sequence bigint NOT NULL DEFAULT 1
        );
        CREATE TABLE IF NOT EXISTS stream_records (
            stream text NOT NULL,
            shard bigint NOT NULL,
            sequence bigint NOT NULL,
            partition_key text NOT NULL,
            data bytea NOT NULL,
            arrival bigint NOT NULL,
            PRIMARY KEY (stream, shard, sequence)
        );
        CREATE TABLE IF NOT EXISTS shard_leases (
            mapping text NOT NULL,
            shard text NOT NULL,
            owner text,
            lease_until bigint NOT NULL DEFAULT 0,
            checkpoint bigint,
            lease_counter bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (mapping, shard)
        );
        """
}
