import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

/// `storesync import`: stores the messages of a JSON Lines file in a local store.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store the messages of a JSON Lines file in a local data directory.")

    @Option(help: "Directory of the LMDB store.")
    var dataDir: String

    @Argument(help: "JSON Lines file: pubsub_topic, content_topic, payload (base64), meta, timestamp (ns), ephemeral.")
    var file: String

    @OptionGroup var retention: RetentionOptions

    func run() throws {
        let lines = try loadLines(file)
        let store = try openStore(dataDir, retention: retention.policy)
        var counts = StoreCounts(rejected: lines.rejected.count)
        var reasons = lines.rejected
        var index = 0
        while index < lines.messages.count {
            let batch = Array(lines.messages[index..<min(index + 1_000, lines.messages.count)])
            let result = try store.ingest(batch.map(\.message))
            for (entry, outcome) in zip(batch, result.outcomes) {
                switch outcome {
                case .stored: counts.stored += 1
                case .duplicate: counts.duplicates += 1
                case .ephemeral:
                    counts.rejected += 1
                    reasons.append((entry.line, "ephemeral messages are not stored"))
                case .rejected(let reason):
                    counts.rejected += 1
                    reasons.append((entry.line, reason))
                }
            }
            index += batch.count
        }
        report(counts, reasons: reasons)
    }
}

/// `storesync push`: hands the messages of a JSON Lines file to a running node.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push the messages of a JSON Lines file to a running node (started with --allow-push).")

    @Option(help: "The node, HOST:PORT.")
    var node: Endpoint

    @Argument(help: "JSON Lines file, as for import.")
    var file: String

    @OptionGroup var retry: RetryOptions

    func run() async throws {
        let lines = try loadLines(file)
        do {
            let client = node.client
            let messages = lines.messages.map(\.message)
            var counts = try await client.withRetries(
                retry.policy
            ) { try await client.push(messages) }.result
            counts.rejected += lines.rejected.count
            report(counts, reasons: lines.rejected)
        } catch {
            printError(explain(error, peer: node))
            throw ExitCode(1)
        }
    }
}

func loadLines(_ file: String) throws -> JSONLines {
    do {
        return try JSONLines(contentsOf: file)
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

func report(_ counts: StoreCounts, reasons: [(line: Int, reason: String)]) {
    print("stored \(counts.stored), duplicates \(counts.duplicates), rejected \(counts.rejected)")
    for (line, reason) in reasons.sorted(by: { $0.line < $1.line }) { print("  line \(line): \(reason)") }
}
