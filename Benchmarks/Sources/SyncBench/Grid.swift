import Foundation

/// The whole grid: N in {10k, 100k, 1M} (and 10M with `--with-10m`), d in {0, 1, 100, 1 %, 10 %},
/// every method on memory storage in process, and the Negentropy policies also on LMDB and over
/// loopback TCP. Each run is a child
/// process of this executable, so that its peak memory is its own. Writes `results.md`,
/// `results.csv`, `bytes-per-difference.svg` and `sync-time.svg` to the output directory.
enum Grid {
    struct Row: Decodable {
        var n: Int
        var d: Int
        var storage: String
        var policy: String
        var transport: String
        var rounds: Int
        var bytesUp: Int
        var bytesDown: Int
        var have: Int
        var need: Int
        var syncSeconds: Double
        var cpuSeconds: Double
        var peakRssBytes: Int

        var bytesPerDifference: Double? { d == 0 ? nil : Double(bytesUp + bytesDown) / Double(d) }
    }

    static let methods = ["reference", "adaptive", "full-ids", "xor-partitions"]

    static func run(_ options: Options) throws {
        let sizes = [10_000, 100_000, 1_000_000] + (options.largeGrid ? [10_000_000] : [])
        var rows = [Row]()
        for n in sizes {
            for d in [0, 1, 100, n / 100, n / 10] {
                for method in methods {
                    let setups =
                        Baseline.names.contains(method)
                        ? [("memory", "inprocess")]
                        : [("memory", "inprocess"), ("lmdb", "inprocess"), ("memory", "tcp")]
                    for (storage, transport) in setups {
                        let row = try child([
                            "--n", String(n), "--d", String(d), "--policy", method, "--storage", storage,
                            "--transport", transport, "--json",
                        ])
                        FileHandle.standardError.write(
                            Data(
                                "n=\(n) d=\(d) \(method) \(storage) \(transport): \(row.rounds) rounds, \(row.bytesUp + row.bytesDown) B, \(row.syncSeconds) s\n"
                                    .utf8))
                        rows.append(row)
                    }
                }
            }
        }
        try FileManager.default.createDirectory(atPath: options.output, withIntermediateDirectories: true)
        try table(rows).write(toFile: options.output + "/results.md", atomically: true, encoding: .utf8)
        try csv(rows).write(toFile: options.output + "/results.csv", atomically: true, encoding: .utf8)
        let largest = sizes.last ?? 0
        var perDifference = methods.map { method in
            (
                method,
                rows.filter {
                    $0.n == largest && $0.policy == method && $0.storage == "memory" && $0.transport == "inprocess"
                        && $0.d > 0
                }
                .map { (Double($0.d), $0.bytesPerDifference ?? 0) }
            )
        }
        perDifference.append(("floor (32 B)", perDifference[0].1.map { ($0.0, 32) }))
        try Plot.svg(
            title: "Bytes per difference, N = \(largest), memory storage", xLabel: "differences d",
            yLabel: "bytes per difference", series: perDifference
        ).write(toFile: options.output + "/bytes-per-difference.svg", atomically: true, encoding: .utf8)
        let times = methods.map { method in
            (
                method,
                rows.filter {
                    $0.policy == method && $0.storage == "memory" && $0.transport == "inprocess" && $0.d == $0.n / 100
                }
                .map { (Double($0.n), max($0.syncSeconds, 1e-6)) }
            )
        }
        try Plot.svg(
            title: "Sync time at d = 1 % of N, memory storage", xLabel: "keys per side N", yLabel: "seconds",
            series: times
        ).write(toFile: options.output + "/sync-time.svg", atomically: true, encoding: .utf8)
        print("wrote results.md, results.csv, bytes-per-difference.svg and sync-time.svg to \(options.output)")
    }

    static func child(_ arguments: [String]) throws -> Row {
        let process = Process()
        process.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GridFailure(
                description: "sync-bench \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Row.self, from: data)
    }

    struct GridFailure: Error, CustomStringConvertible {
        let description: String
    }

    static func machine() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
            ?? "unknown CPU"
        let memory = ProcessInfo.processInfo.physicalMemory >> 30
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores, \(memory) GiB, "
            + "\(ProcessInfo.processInfo.operatingSystemVersionString), release build"
    }

    static let header = [
        "N", "d", "method", "storage", "transport", "rounds", "bytes up", "bytes down", "bytes per difference",
        "floor bytes (32 d)", "sync s", "cpu s", "peak RSS MiB",
    ]

    static func cells(_ row: Row) -> [String] {
        [
            String(row.n), String(row.d), row.policy, row.storage, row.transport, String(row.rounds),
            String(row.bytesUp), String(row.bytesDown),
            row.bytesPerDifference.map { String(format: "%.1f", $0) } ?? "-",
            String(32 * row.d), String(format: "%.4f", row.syncSeconds), String(format: "%.4f", row.cpuSeconds),
            String(format: "%.1f", Double(row.peakRssBytes) / 1_048_576),
        ]
    }

    static func table(_ rows: [Row]) -> String {
        var lines = [
            "# sync-bench grid", "", "Machine: \(machine()).", "",
            "Every run: `sync-bench --n N --d D --policy METHOD --storage STORAGE --json` in its own process.", "",
            "| " + header.joined(separator: " | ") + " |",
            "|" + String(repeating: "---|", count: header.count),
        ]
        lines += rows.map { "| " + cells($0).joined(separator: " | ") + " |" }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csv(_ rows: [Row]) -> String {
        ([header.joined(separator: ",")] + rows.map { cells($0).joined(separator: ",") }).joined(separator: "\n") + "\n"
    }
}
