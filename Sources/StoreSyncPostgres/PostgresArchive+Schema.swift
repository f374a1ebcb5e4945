import PostgresNIO

/// The archive's schema and its migrations (SPEC.md 4.4).
extension PostgresArchive {
    /// The schema version this build writes.
    public static let schemaVersion = 1

    /// The statements that take a database from the version before to each version, in order.
    static let migrations: [(version: Int, statements: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE storesync_messages (
                    hash bytea NOT NULL CHECK (octet_length(hash) = 32),
                    "timestamp" bigint NOT NULL CHECK ("timestamp" >= 0),
                    pubsub_topic text NOT NULL,
                    content_topic text NOT NULL,
                    version bigint NOT NULL,
                    meta bytea,
                    payload bytea NOT NULL,
                    PRIMARY KEY (hash, "timestamp")
                ) PARTITION BY RANGE ("timestamp")
                """,
                """
                CREATE INDEX storesync_messages_topics
                    ON storesync_messages (pubsub_topic, content_topic, "timestamp", hash)
                """,
                #"CREATE INDEX storesync_messages_time ON storesync_messages ("timestamp", hash)"#,
            ]
        )
    ]

    /// Brings the database to `schemaVersion`: each missing migration in a transaction of its
    /// own, under an advisory lock so that two nodes starting together do not both run it.
    /// Refuses a database of a newer version.
    func migrate() async throws {
        try await database("migrating the schema") { client in
            try await client.withTransaction(logger: self.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(7311405)", logger: self.logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS storesync_schema (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                    logger: self.logger)
                let found = try await connection.query(
                    "SELECT coalesce(max(version), 0) FROM storesync_schema", logger: self.logger
                ).integer()
                guard found <= Self.schemaVersion else {
                    throw PostgresArchiveError.schemaTooNew(found: found, supported: Self.schemaVersion)
                }
                for migration in Self.migrations where migration.version > found {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                    }
                    try await connection.query(
                        "INSERT INTO storesync_schema (version) VALUES (\(migration.version))", logger: self.logger)
                }
            }
        }
    }

    /// The schema version of the database now.
    public func storedSchemaVersion() async throws -> Int {
        try await database("reading the schema version") { client in
            try await client.query(
                "SELECT coalesce(max(version), 0) FROM storesync_schema", logger: self.logger
            ).integer()
        }
    }
}
