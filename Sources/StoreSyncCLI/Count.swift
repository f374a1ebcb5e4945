import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncNode

/// `storesync count`: message counts of several nodes side by side, per time bucket.
struct Count: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare message counts of nodes per time bucket and show where they disagree.",
        discussion: """
            Asks each node for the count and fingerprint of every bucket (the count protocol of \
            SPEC.md): no message is downloaded. A bucket is marked '*' when the nodes' counts or \
            fingerprints differ. With --diff, the keys each node lacks in those buckets are listed.
            """)

    @Option(name: .customLong("node"), help: "A node, HOST:PORT (repeatable, at least two).")
    var nodes: [NodeAddress] = []

    @Option(help: "The pubsub topic.")
    var pubsubTopic = "/waku/2/rs/0/0"

    @Option(name: .customLong("content-topic"), help: "Only messages on this content topic (repeatable, up to 10).")
    var contentTopics: [String] = []

    @Option(help: "Start of the range, ns since the epoch (default: an hour before --end).")
    var start: UInt64?

    @Option(help: "End of the range, exclusive, ns since the epoch (default: now).")
    var end: UInt64?

    @Option(help: "Bucket width, like 30s, 1m, 1h or 1d.")
    var bucket = DurationArgument(argument: "1m")!

    @Flag(help: "List the message hashes missing on each node in the buckets that disagree.")
    var diff = false

    @Flag(help: "Print only the buckets that disagree.")
    var onlyDifferences = false

    func validate() throws {
        guard nodes.count >= 2 else { throw ValidationError("name at least two nodes with --node") }
        guard bucket.nanoseconds > 0 else { throw ValidationError("--bucket must be positive") }
        guard contentTopics.count <= CountFilter.maximumContentTopics else {
            throw ValidationError("at most \(CountFilter.maximumContentTopics) content topics")
        }
        if let start, let end, start > end { throw ValidationError("--start is after --end") }
    }

    func run() async throws {
        let end = self.end ?? WallClock.nanoseconds()
        let start = self.start ?? (end - min(end, 3_600_000_000_000))
        let filter = CountFilter(pubsubTopic: pubsubTopic, contentTopics: contentTopics, timeRange: start..<end)
        let named = try nodes.map { (name: $0.description, client: try $0.client()) }
        let table: CrossNodeCount
        do {
            table = try await CrossNodeCount.gather(nodes: named, filter: filter, bucketWidth: bucket.nanoseconds)
        } catch {
            printError("count failed: \(explain(error))")
            throw ExitCode(1)
        }
        print(Self.render(table, onlyDifferences: onlyDifferences))
        guard diff else { return }
        for row in table.disagreements {
            var bucketFilter = filter
            bucketFilter.timeRange = row.start..<row.end
            let missing: [[SyncKey]]
            do {
                missing = try await CrossNodeCount.missing(nodes: named, filter: bucketFilter)
            } catch {
                printError("listing keys of bucket \(isoDate(row.start)) failed: \(explain(error))")
                throw ExitCode(1)
            }
            print("")
            print("bucket \(isoDate(row.start)):")
            for (node, keys) in zip(table.nodes, missing) where !keys.isEmpty {
                print("  \(node) lacks \(keys.count):")
                for key in keys { print("    \(key.hash.hex) \(key.timestamp)") }
            }
        }
    }

    static func date(_ nanoseconds: UInt64) -> String {
        isoDate(nanoseconds, fractional: true)
    }

    /// The table: one row per bucket, one column per node, `*` where they disagree, and a total.
    static func render(_ table: CrossNodeCount, onlyDifferences: Bool) -> String {
        let widths = table.nodes.map { max($0.count, 8) }
        func pad(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        var lines = [
            "bucket start (UTC)        " + zip(table.nodes, widths).map { pad($0, $1) }.joined(separator: "  ")
        ]
        for row in table.rows where !onlyDifferences || !row.agree {
            let cells = zip(row.buckets, widths).map { pad(String($0.count), $1) }.joined(separator: "  ")
            lines.append(
                date(row.start).padding(toLength: 26, withPad: " ", startingAt: 0) + cells + (row.agree ? "" : "  *"))
        }
        let totals = table.nodes.indices.map { column in table.rows.reduce(0) { $0 + $1.buckets[column].count } }
        lines.append(
            "total".padding(toLength: 26, withPad: " ", startingAt: 0)
                + zip(totals, widths).map { pad(String($0), $1) }.joined(separator: "  "))
        lines.append("\(table.disagreements.count) of \(table.rows.count) buckets disagree")
        return lines.joined(separator: "\n")
    }
}
