import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

/// `storesync stats`: what a store holds and how much disk it uses, read offline.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the message counts, time span and disk use of a store (the metrics, offline).")

    @Option(help: "Directory of the LMDB store.")
    var dataDir: String

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: dataDir + "/data.mdb") else {
            printError("no store in \(dataDir): it has no data.mdb")
            throw ExitCode(1)
        }
        let statistics: StoreStatistics
        do {
            statistics = try openStore(dataDir).statistics()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError(explain(error, dataDirectory: dataDir))
            throw ExitCode(1)
        }
        print(json ? Self.json(statistics) : Self.table(statistics))
    }

    static func date(_ nanoseconds: UInt64?) -> String {
        nanoseconds.map { isoDate($0) } ?? "-"
    }

    static func table(_ statistics: StoreStatistics) -> String {
        let disk = statistics.disk
        var lines = [
            "messages            \(statistics.messages)",
            "oldest              \(date(statistics.oldest))",
            "newest              \(date(statistics.newest))",
            "data file           \(disk.fileBytes) bytes",
            "in use              \(disk.usedBytes) bytes (\(disk.usedPages) pages of \(disk.pageSize) bytes)",
            "free for reuse      \(disk.freePages * disk.pageSize) bytes (\(disk.freePages) pages)",
            "pubsub topics       \(statistics.topics.count)",
        ]
        if statistics.messages > 0 {
            lines.append("bytes per message   \(disk.usedBytes / statistics.messages) (in use / messages)")
        }
        let width = max(12, statistics.topics.map(\.pubsubTopic.count).max() ?? 0)
        lines.append("")
        lines.append(
            "pubsub topic".padding(toLength: width, withPad: " ", startingAt: 0) + "  messages  oldest  newest")
        for topic in statistics.topics {
            lines.append(
                topic.pubsubTopic.padding(toLength: width, withPad: " ", startingAt: 0)
                    + "  \(topic.messages)  \(date(topic.oldest))  \(date(topic.newest))")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ statistics: StoreStatistics) -> String {
        let disk = statistics.disk
        let topics = statistics.topics.map { topic in
            [
                "pubsub_topic": topic.pubsubTopic, "messages": topic.messages, "oldest_ns": topic.oldest ?? 0,
                "newest_ns": topic.newest ?? 0,
            ] as [String: Any]
        }
        let object: [String: Any] = [
            "messages": statistics.messages, "oldest_ns": statistics.oldest ?? 0, "newest_ns": statistics.newest ?? 0,
            "file_bytes": disk.fileBytes, "used_bytes": disk.usedBytes, "free_bytes": disk.freePages * disk.pageSize,
            "map_bytes": disk.mapBytes, "topics": topics,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
