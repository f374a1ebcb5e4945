import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

/// `storesync push`: hands the messages of a JSON Lines file to a running node.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push the messages of a JSON Lines file to a running node (started with --allow-push).")

    @Option(help: "The node, HOST:PORT.")
    var node: NodeAddress

    @Argument(help: "JSON Lines file, as for import.")
    var file: String

    @OptionGroup var retry: RetryOptions

    func run() async throws {
        let lines = try loadLines(file)
        do {
            let client = try node.client()
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
