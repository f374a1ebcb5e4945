import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncTestSupport
import Testing

/// The `storesync` tool run as processes, end to end: import, node, query, sync, push, stop.
@Suite("storesync command line, as processes", .timeLimit(.minutes(15)))
struct CommandLineTests {
    static var executable: URL { ChildProcess.built("storesync") }

    /// Runs the tool to completion; returns its exit status and output.
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(executable, arguments)
    }

    static func jsonLines(_ messages: [WakuMessage]) -> String {
        messages.map { message in
            "{\"pubsub_topic\":\"\(message.pubsubTopic)\",\"content_topic\":\"\(message.contentTopic)\","
                + "\"payload\":\"\(Data(message.payload).base64EncodedString())\",\"timestamp\":\(message.timestamp)}"
        }.joined(separator: "\n")
    }

    @Test func importServeQuerySyncPushAndStop() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable.path), "storesync is built")
        let directory = try TemporaryDirectory("cli")
        let messages = try testMessages(count: 60, seed: 21)
        let file = directory.sub("messages.jsonl")
        let text = Self.jsonLines(Array(messages.prefix(50))) + "\nnot json\n{\"pubsub_topic\":\"p\"}\n"
        #expect(FileManager.default.createFile(atPath: file, contents: Data(text.utf8)))

        let imported = try await Self.run(["import", "--data-dir", directory.sub("a"), file])
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.contains("stored 50, duplicates 0, rejected 2"), "\(imported.output)")
        #expect(imported.output.contains("line 51:") && imported.output.contains("line 52: missing field"))

        // A node on a free port; it prints the port it listens on. However the test ends, the
        // node does not outlive it.
        let node = try ChildProcess(
            Self.executable,
            [
                "node", "--data-dir", directory.sub("a"), "--listen", "127.0.0.1:0", "--plaintext-listen",
                "127.0.0.1:0",
                "--allow-push",
                "--metrics-listen", "127.0.0.1:0", "--retention", "capacity:58",
            ])
        _ = await node.nextLine { $0.hasSuffix("/metrics") }
        let seen = node.lines.joined(separator: "\n")
        let port = try #require(
            seen.split(separator: "\n").first { $0.contains("plaintext framing listener on") }.flatMap { line in
                line.split(separator: " ").first { $0.hasPrefix("127.0.0.1:") }
                    .flatMap { Int($0.dropFirst(10).filter(\.isNumber)) }
            }, "node said: \(seen)")
        let endpoint = "127.0.0.1:\(port)"
        let metricsPort = try #require(
            seen.split(separator: "\n").first { $0.hasPrefix("metrics on") }
                .flatMap { Int($0.split(separator: ":").last?.filter(\.isNumber) ?? "") },
            "node said: \(seen)")

        // Store v3 over libp2p, at the multiaddr the node printed; its key is kept for its owner only.
        let multiaddr = try #require(
            seen.split(separator: "\n").first { $0.hasPrefix("libp2p listening on") }
                .flatMap { $0.split(separator: " ").first { $0.hasPrefix("/ip4/") } }.map(String.init),
            "node said: \(seen)")
        let keyFile = try FileManager.default.attributesOfItem(atPath: directory.sub("a") + "/node.key")
        #expect((keyFile[.posixPermissions] as? Int) == 0o600)
        let query = try await Self.run([
            "query", "--node", multiaddr, "--pubsub-topic", "/waku/2/rs/0/0", "--content-topic", "/test/1/c0/proto",
            "--include-data", "--all-pages", "--limit", "7", "--json",
        ])
        #expect(query.status == 0, "\(query.output)")
        let expected = messages.prefix(50).filter { $0.contentTopic == "/test/1/c0/proto" }
        #expect(query.output.split(separator: "\n").count == expected.count, "\(query.output)")

        let synced = try await Self.run(["sync", "--data-dir", directory.sub("b"), "--peer", multiaddr])
        #expect(synced.status == 0, "\(synced.output)")
        #expect(synced.output.contains("fetched: stored 50, rejected 0"), "\(synced.output)")

        let extra = directory.sub("extra.jsonl")
        #expect(
            FileManager.default.createFile(atPath: extra, contents: Data(Self.jsonLines(Array(messages[45...])).utf8)))
        let pushed = try await Self.run(["push", "--node", multiaddr, extra])
        #expect(pushed.output.contains("stored 10, duplicates 5, rejected 0"), "\(pushed.output)")

        // Capacity 58: the push of 10 new messages to 50 made the two oldest go.
        let scraped = try await httpGet(port: metricsPort, path: "/metrics")
        let samples = try PrometheusSamples(parsing: scraped.body)
        #expect(samples["storesync_messages"] == 58, "\(scraped.body)")
        #expect(samples["storesync_retention_deleted_total", ["reason": "count"]] == 2)
        #expect(samples["storesync_requests_served_total", ["protocol": "push"]] == 1)
        #expect(samples["storesync_sync_sessions_total", ["role": "responder", "outcome": "ok"]] == 1)
        let stats = try await Self.run(["stats", "--data-dir", directory.sub("a")])
        #expect(stats.status == 0, "\(stats.output)")
        #expect(stats.output.contains("messages            58"), "\(stats.output)")
        #expect(stats.output.contains("/waku/2/rs/0/0  58"), "\(stats.output)")
        // The reference node's store sync, chosen by the flag although the node offers Negentropy.
        let byStoreSync = try await Self.run([
            "sync", "--data-dir", directory.sub("c"), "--peer", multiaddr, "--no-negentropy",
        ])
        #expect(byStoreSync.status == 0, "\(byStoreSync.output)")
        #expect(byStoreSync.output.contains("by store-sync"), "\(byStoreSync.output)")
        #expect(byStoreSync.output.contains("fetched: stored 58, rejected 0, missing 0"), "\(byStoreSync.output)")
        let missingStore = try await Self.run(["stats", "--data-dir", directory.sub("nothing")])
        #expect(missingStore.status != 0 && missingStore.output.contains("no store in"), "\(missingStore.output)")

        let load = try await Self.run([
            "load", "--node", endpoint, "--rate", "200", "--duration", "0.5", "--connections", "2",
        ])
        #expect(load.status == 0, "\(load.output)")
        #expect(load.output.contains("sent 100 in"), "\(load.output)")
        #expect(load.output.contains("latency of served requests: p50"), "\(load.output)")

        let unreachable = try await Self.run([
            "query", "--node", "127.0.0.1:1", "--hashes", messages[0].hash.hex, "--attempts", "1",
        ])
        #expect(
            unreachable.status != 0 && unreachable.output.contains("cannot reach 127.0.0.1:1"), "\(unreachable.output)")
        let badFlag = try await Self.run(["sync", "--data-dir", directory.sub("b"), "--peer", "nowhere"])
        #expect(badFlag.status != 0)

        node.send(SIGTERM)
        let rest = await node.output()
        #expect(await node.exit().code == 0)
        #expect(rest.contains("stopped; store closed"), "\(rest)")
    }

    @Test func aNodeOnAPostgresArchiveImportsFromAReferenceNodeServesAndSyncs() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable.path), "storesync is built")
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("cli-pg")
            let messages = try PostgresArchiveTests.messages(hours: 2, perHour: 40, seed: 31)
            let reference = try await NwakuImportTests.referenceArchive(server, messages: messages, tampered: [5])
            try await server.psql("CREATE DATABASE archive")
            let archive = server.url(database: "archive")

            let imported = try await Self.run([
                "import", "--data-dir", directory.sub("a"), "--archive", archive, "--from-nwaku-postgres",
                server.url(database: reference),
            ])
            #expect(imported.status == 0, "\(imported.output)")
            #expect(
                imported.output.contains("stored 79, duplicates 0, rejected 1, hash mismatches 1"), "\(imported.output)"
            )

            let refused = try await Self.run([
                "node", "--data-dir", directory.sub("a"), "--listen", "127.0.0.1:0",
                "--archive", server.url(database: "archive", password: "wrong"),
            ])
            #expect(refused.status == 1 && refused.output.contains("refused the credentials"), "\(refused.output)")

            let node = try ChildProcess(
                Self.executable,
                [
                    "node", "--data-dir", directory.sub("a"), "--listen", "127.0.0.1:0", "--archive", archive,
                    "--pubsub-topic", "/waku/2/rs/0/0", "--pubsub-topic", "/waku/2/rs/0/1",
                ])
            _ = await node.nextLine { $0.hasPrefix("data in") }
            let seen = node.lines.joined(separator: "\n")
            #expect(seen.contains("messages in postgres://storesync@127.0.0.1:\(server.port)/archive"), "\(seen)")
            let multiaddr = try #require(
                seen.split(separator: "\n").first { $0.hasPrefix("libp2p listening on") }
                    .flatMap { $0.split(separator: " ").first { $0.hasPrefix("/ip4/") } }.map(String.init),
                "node said: \(seen)")
            let query = try await Self.run([
                "query", "--node", multiaddr, "--pubsub-topic", "/waku/2/rs/0/0", "--content-topic",
                "/test/1/c0/proto", "--include-data", "--all-pages", "--limit", "7", "--json",
            ])
            #expect(query.status == 0, "\(query.output)")
            let expected = messages.enumerated().filter {
                $0.offset != 5 && $0.element.pubsubTopic == "/waku/2/rs/0/0"
                    && $0.element.contentTopic == "/test/1/c0/proto"
            }
            #expect(query.output.split(separator: "\n").count == expected.count, "\(query.output)")
            let synced = try await Self.run([
                "sync", "--data-dir", directory.sub("b"), "--peer", multiaddr, "--pubsub-topic", "/waku/2/rs/0/1",
            ])
            #expect(synced.status == 0, "\(synced.output)")
            let onTopic = messages.enumerated().filter { $0.offset != 5 && $0.element.pubsubTopic == "/waku/2/rs/0/1" }
            #expect(synced.output.contains("fetched: stored \(onTopic.count), rejected 0"), "\(synced.output)")
            node.send(SIGTERM)
            _ = await node.output()
            #expect(await node.exit().code == 0)
        }
    }
}
