import Foundation
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncNode
import StoreSyncProto

// flood-bench: connections that push large frames and never read, against a node running in
// another process, and what that costs the node in memory and a well-behaved client in latency.
//   flood-bench --port 9311 --pid PID [--connections 64] [--frames 11] [--frame-size 4194304]
//               [--seconds 60] [--protocol-version 2]
// Each connection sends a push hello and --frames data frames of about --frame-size bytes (valid
// push containers of 150 KiB messages, every message new), never reading a byte of the node's
// answers. Meanwhile one client sends 10 Store v3 queries a second. Reported: the node's peak
// resident memory (VmHWM of /proc/PID/status), how the flood's frames ended, and the queries'
// latency. The node needs --allow-push and --rate-limit none (else most of the flood is 429s).

var port = 9311
var pid = 0
var connections = 64
var framesPerConnection = 11
var frameSize = 4 << 20
var seconds = 60.0
var protocolVersion = Int(StreamProtocol.version)
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next(), let number = Double(value) else { break }
    switch flag {
    case "--port": port = Int(number)
    case "--pid": pid = Int(number)
    case "--connections": connections = Int(number)
    case "--frames": framesPerConnection = Int(number)
    case "--frame-size": frameSize = Int(number)
    case "--seconds": seconds = number
    case "--protocol-version": protocolVersion = Int(number)
    default:
        FileHandle.standardError.write(Data("flood-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

/// What one run floods with.
struct Flood: Sendable {
    let port: Int
    let pid: Int
    let framesPerConnection: Int
    let frameSize: Int
    let seconds: Double
    /// The hello's version: 1 for nodes from before the version 2 wire changes.
    let version: UInt8
}

let settings = Flood(
    port: port, pid: pid, framesPerConnection: framesPerConnection, frameSize: frameSize, seconds: seconds,
    version: UInt8(protocolVersion))

/// A field of /proc/PID/status, in KiB.
func status(_ field: String, pid: Int) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
    return nil
}

/// One push frame of new 150 KiB messages, about `frameSize` bytes.
func pushFrame(connection: Int, frame: Int, frameSize: Int) throws -> ByteBuffer {
    let now = Int64(WallClock.nanoseconds())
    let perMessage = 150 << 10 - 200
    var container = Waku_Store_V3_StoreQueryResponse()
    var index = 0
    var rng = SplitMix64(seed: UInt64(connection << 20 | frame))
    while (index + 1) * (perMessage + 300) < frameSize - 8_192 {
        let message = try WakuMessage(
            pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/flood/1/c/proto",
            payload: (0..<perMessage / 8).flatMap { _ in withUnsafeBytes(of: rng.next()) { Array($0) } },
            timestamp: now - Int64(connection * 1_000 + frame * 50 + index) * 1_000)
        container.messages.append(message.keyValue(hash: message.hash))
        index += 1
    }
    return ByteBuffer(bytes: try container.serializedBytes() as [UInt8])
}

enum Ending: Hashable { case allWritten, refused, failed }

func flood(connection: Int, _ settings: Flood) async -> Ending {
    let port = settings.port
    do {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    return try NIOAsyncChannel<ByteBuffer, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { _, outbound in
            try await outbound.write(.hello(protocolId: StreamProtocol.push.rawValue, version: settings.version))
            for frame in 0..<settings.framesPerConnection {
                do {
                    let body = try pushFrame(connection: connection, frame: frame, frameSize: settings.frameSize)
                    try await outbound.write(.data(body))
                } catch {
                    return .refused
                }
            }
            // Never read: hold the connection until the node closes it or the run ends.
            try? await Task.sleep(for: .seconds(settings.seconds))
            return .allWritten
        }
    } catch {
        return .failed
    }
}

let baseline = status("VmRSS", pid: pid) ?? 0
let started = ContinuousClock.now
let queries = Task { [settings] in
    let port = settings.port
    let seconds = settings.seconds
    let client = NodeClient(host: "127.0.0.1", port: port, readTimeout: 30)
    var latencies = [Double]()
    var failures = 0
    var request = Waku_Store_V3_StoreQueryRequest()
    request.includeData = false
    request.paginationLimit = 20
    while ContinuousClock.now - started < .seconds(seconds), !Task.isCancelled {
        let sent = ContinuousClock.now
        do {
            let response = try await client.query(request)
            if response.statusCode == 200 {
                latencies.append((ContinuousClock.now - sent).seconds * 1e3)
            } else {
                failures += 1
            }
        } catch {
            failures += 1
        }
        try? await Task.sleep(until: sent + .milliseconds(100))
    }
    return (latencies.sorted(), failures)
}
let sampler = Task { [settings] in
    var peak = (resident: 0, anonymous: 0)
    while !Task.isCancelled {
        peak.resident = max(peak.resident, status("VmRSS", pid: settings.pid) ?? 0)
        peak.anonymous = max(peak.anonymous, status("RssAnon", pid: settings.pid) ?? 0)
        try? await Task.sleep(for: .milliseconds(50))
    }
    return peak
}
let endings = await withTaskGroup(of: Ending.self) { group in
    for connection in 0..<connections { group.addTask { await flood(connection: connection, settings) } }
    var endings = [Ending: Int]()
    for await ending in group { endings[ending, default: 0] += 1 }
    return endings
}
let (latencies, failures) = await queries.value
sampler.cancel()
let sampled = await sampler.value
func percentile(_ p: Double) -> Double {
    latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
}
print(
    "flood: \(connections) connections x \(framesPerConnection) frames of \(frameSize) bytes; connections that wrote every frame \(endings[.allWritten] ?? 0), refused mid-way \(endings[.refused] ?? 0), failed to connect \(endings[.failed] ?? 0)"
)
print(
    "node resident memory: before \(baseline / 1024) MiB, peak sampled \(sampled.resident / 1024) MiB (VmHWM \((status("VmHWM", pid: pid) ?? 0) / 1024) MiB), of it anonymous (heap, not the store's mapped file) \(sampled.anonymous / 1024) MiB"
)
print(
    String(
        format: "queries meanwhile: %d served, %d failed; p50 %.2f ms, p99 %.2f ms, max %.2f ms", latencies.count,
        failures, percentile(0.5), percentile(0.99), latencies.last ?? .nan))
