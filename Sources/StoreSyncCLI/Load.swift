import ArgumentParser
import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncNode
import StoreSyncProto

/// `storesync load`: a bounded load generator for a node's Store v3 or push service, for
/// measuring latency and throughput and checking limits (use it on your own nodes, on loopback in
/// tests).
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send Store v3 queries or single-message pushes to a node at a fixed rate; report latency.")

    @Option(help: "The node, HOST:PORT.")
    var node: Endpoint

    @Option(
        name: .customLong("protocol"),
        help: "The service to load: store (queries) or push (one new message per request; the node needs --allow-push)."
    )
    var streamProtocol = "store"

    @Option(help: "Payload bytes of each pushed message.")
    var payload = 200

    @Option(help: "Requests per second (at most 100000).")
    var rate = 100

    @Option(help: "Seconds to run (at most 600).")
    var duration = 10.0

    @Option(help: "Concurrent streams the requests are spread over.")
    var connections = 8

    @Option(help: "Local address to send from, e.g. 127.0.0.2 to act as another peer on loopback.")
    var from: String?

    func validate() throws {
        guard ["store", "push"].contains(streamProtocol) else {
            throw ValidationError("--protocol: store or push")
        }
        guard (0...(150 << 10)).contains(payload) else { throw ValidationError("--payload must be 0 to 153600") }
        guard (1...100_000).contains(rate) else { throw ValidationError("--rate must be between 1 and 100000") }
        guard duration > 0 && duration <= 600 else { throw ValidationError("--duration must be in (0, 600]") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be 1 to 256") }
    }

    struct Sample: Sendable {
        var latency: Double
        var status: UInt32
    }

    /// The request body of request number `index`, and how to read the status of its reply.
    struct Workload: Sendable {
        let service: StreamProtocol
        let body: @Sendable (Int) throws -> ByteBuffer
        let status: @Sendable (ByteBuffer) -> UInt32

        static func store() throws -> Workload {
            var request = Waku_Store_V3_StoreQueryRequest()
            request.requestID = "load"
            request.paginationForward = true
            request.paginationLimit = 20
            let body = ByteBuffer(bytes: try request.serializedBytes() as [UInt8])
            return Workload(
                service: .storeQuery, body: { _ in body },
                status: { reply in
                    (try? Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: reply)))?.statusCode ?? 0
                })
        }

        /// A new message per request: its payload starts with the run's seed and the request's
        /// number, so no two are alike.
        static func push(payload: Int) -> Workload {
            let seed = UInt64.random(in: 0...UInt64.max)
            let start = Int64(WallClock.nanoseconds())
            return Workload(
                service: .push,
                body: { index in
                    var generator = SplitMix64(seed: seed &+ UInt64(index))
                    var bytes = (0..<payload).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                    withUnsafeBytes(of: (seed, UInt64(index))) {
                        bytes.replaceSubrange(0..<min(16, payload), with: $0.prefix(payload))
                    }
                    let message = try WakuMessage(
                        pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/storesync/1/load/proto", payload: bytes,
                        timestamp: start + Int64(index))
                    var container = Waku_Store_V3_StoreQueryResponse()
                    container.messages = [message.keyValue(hash: message.hash)]
                    return ByteBuffer(bytes: try container.serializedBytes() as [UInt8])
                },
                status: { reply in
                    var reply = reply
                    guard let counts = try? StoreCounts(decoding: &reply) else { return 0 }
                    return counts.rejected == 0 ? 200 : 400
                })
        }
    }

    func run() async throws {
        let workload = streamProtocol == "push" ? Workload.push(payload: payload) : try Workload.store()
        let total = max(1, Int(Double(rate) * duration))
        let client = NodeClient(host: node.host, port: node.port, localAddress: from)
        let clock = ContinuousClock()
        let start = clock.now
        let workers = connections
        var samples = [Sample]()
        var errors = 0
        try await withThrowingTaskGroup(of: ([Sample], Int).self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var samples = [Sample]()
                    var errors = 0
                    var index = worker
                    while index < total {
                        do {
                            try await client.withStream(workload.service) { stream in
                                while index < total {
                                    // Open-loop pacing: request `index` is due at index / rate.
                                    let due = start + .nanoseconds(Int64(Double(index) / Double(rate) * 1e9))
                                    if clock.now < due { try await clock.sleep(until: due) }
                                    let body = try workload.body(index)
                                    let sent = clock.now
                                    let reply = try await stream.request(body)
                                    let elapsed = clock.now - sent
                                    samples.append(Sample(latency: elapsed.seconds, status: workload.status(reply)))
                                    index += workers
                                }
                            }
                        } catch {
                            errors += 1
                            index += workers
                        }
                    }
                    return (samples, errors)
                }
            }
            for try await (part, failed) in group {
                samples.append(contentsOf: part)
                errors += failed
            }
        }
        let elapsed = clock.now - start
        let seconds = elapsed.seconds
        let served = samples.filter { $0.status == 200 }
        let rejected = samples.filter { $0.status == 429 }.count
        let latencies = served.map(\.latency).sorted()
        func percentile(_ p: Double) -> String {
            guard !latencies.isEmpty else { return "-" }
            return String(
                format: "%.2f ms", latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1_000)
        }
        print(
            "sent \(samples.count + errors) in \(String(format: "%.1f", seconds)) s: served \(served.count), "
                + "rejected (429) \(rejected), other \(samples.count - served.count - rejected), failed \(errors); "
                + "\(Int(Double(served.count) / max(seconds, 1e-9))) served/s")
        print(
            "latency of served requests: p50 \(percentile(0.5)), p90 \(percentile(0.9)), p99 \(percentile(0.99)), "
                + "max \(percentile(1.0))")
    }
}
