import ArgumentParser
import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncNode
import StoreSyncProto

/// `storesync load`: a bounded load generator for a node's Store v3 service, for measuring
/// latency and checking limits (use it on your own nodes, on loopback in tests).
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send Store v3 queries to a node at a fixed rate and report latency percentiles.")

    @Option(help: "The node, HOST:PORT.")
    var node: Endpoint

    @Option(name: .customLong("protocol"), help: "The service to load; store is the one supported.")
    var streamProtocol = "store"

    @Option(help: "Requests per second (at most 100000).")
    var rate = 100

    @Option(help: "Seconds to run (at most 600).")
    var duration = 10.0

    @Option(help: "Concurrent streams the requests are spread over.")
    var connections = 8

    @Option(help: "Local address to send from, e.g. 127.0.0.2 to act as another peer on loopback.")
    var from: String?

    func validate() throws {
        guard streamProtocol == "store" else { throw ValidationError("--protocol: only store can be loaded") }
        guard (1...100_000).contains(rate) else { throw ValidationError("--rate must be between 1 and 100000") }
        guard duration > 0 && duration <= 600 else { throw ValidationError("--duration must be in (0, 600]") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be 1 to 256") }
    }

    struct Sample: Sendable {
        var latency: Double
        var status: UInt32
    }

    func run() async throws {
        var request = Waku_Store_V3_StoreQueryRequest()
        request.requestID = "load"
        request.paginationForward = true
        request.paginationLimit = 20
        let payload = ByteBuffer(bytes: try request.serializedBytes() as [UInt8])
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
                            try await client.withStream(.storeQuery) { stream in
                                while index < total {
                                    // Open-loop pacing: request `index` is due at index / rate.
                                    let due = start + .nanoseconds(Int64(Double(index) / Double(rate) * 1e9))
                                    if clock.now < due { try await clock.sleep(until: due) }
                                    let sent = clock.now
                                    let reply = try await stream.request(payload)
                                    let elapsed = clock.now - sent
                                    let status =
                                        (try? Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: reply)))?
                                        .statusCode ?? 0
                                    samples.append(
                                        Sample(
                                            latency: elapsed.seconds,
                                            status: status))
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
                + "rejected (429) \(rejected), other \(samples.count - served.count - rejected), failed \(errors)")
        print(
            "latency of served requests: p50 \(percentile(0.5)), p90 \(percentile(0.9)), p99 \(percentile(0.99)), "
                + "max \(percentile(1.0))")
    }
}
