import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncTestSupport
import Synchronization
import Testing

@testable import StoreSyncP2P

/// What a background task ended with.
final class Outcome: Sendable {
    private let text = Mutex<String?>(nil)

    var value: String? { text.withLock { $0 } }

    func set(_ value: String) {
        text.withLock { $0 = value }
    }
}

/// The libp2p layer's bounds against peers that stall or misbehave, on a manual clock: each ends
/// at its bound, and the host keeps serving.
@Suite("libp2p protection", .timeLimit(.minutes(5)))
struct P2PProtectionTests {
    /// A host on loopback with an echo protocol, on a manual clock.
    static func echoHost(_ clock: ManualScheduler, configure: (inout P2PConfiguration) -> Void = { _ in }) async throws
        -> (P2PHost, P2PListener, Task<Void, any Error>)
    {
        var configuration = P2PConfiguration()
        configure(&configuration)
        let host = P2PHost(identity: try PrivateKey.generate(.ed25519), configuration: configuration, clock: clock)
        host.handle("/echo/1.0.0") { stream in
            while let chunk = try await stream.read() { try await stream.write(chunk) }
            stream.close()
        }
        let listener = try await host.listen(host: "127.0.0.1", port: 0)
        let serving = Task { try await listener.serve() }
        return (host, listener, serving)
    }

    static func echo(_ connection: P2PConnection, _ text: String) async throws -> String {
        let stream = try await connection.newStream(["/echo/1.0.0"])
        try await stream.write(ByteBuffer(string: text))
        stream.closeWrite()
        var answer = ""
        while let chunk = try await stream.read() { answer += String(buffer: chunk) }
        stream.close()
        return answer
    }

    @Test func aSilentConnectionIsClosedAtTheHandshakeTimeout() async throws {
        let clock = ManualScheduler(start: 1_700_000_000_000_000_000)
        let (host, listener, serving) = try await Self.echoHost(clock) { $0.handshakeTimeout = 10 }
        let silent = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: listener.port).get()
        #expect(await eventually { host.openConnections == 1 && clock.sleepers >= 1 })
        clock.advance(by: 9)
        #expect(silent.isActive)
        clock.advance(by: 1)
        try await silent.closeFuture.get()
        #expect(await eventually { host.openConnections == 0 })

        // The host still serves a peer that does its handshake.
        let client = P2PHost(identity: try PrivateKey.generate(.secp256k1), clock: clock)
        let connection = try await client.dial(try #require(listener.address))
        #expect(try await Self.echo(connection, "still here") == "still here")
        connection.close()
        await listener.close()
        _ = await serving.result
    }

    @Test func aStreamThatNeverNamesItsProtocolIsResetAndUnknownOnesAreRefused() async throws {
        let clock = ManualScheduler(start: 1_700_000_000_000_000_000)
        let (_, listener, serving) = try await Self.echoHost(clock) { $0.negotiationTimeout = 5 }
        let client = P2PHost(identity: try PrivateKey.generate(.ed25519), clock: clock)
        let connection = try await client.dial(try #require(listener.address))

        // Unknown protocols are answered `na`.
        await #expect(throws: P2PError.refused(protocols: ["/nope/1.0.0", "/neither/2.0.0"])) {
            _ = try await connection.newStream(["/nope/1.0.0", "/neither/2.0.0"])
        }
        // A stream opened and left silent is reset by the listener at the negotiation timeout:
        // the clock moves in steps of the timeout until the stream's read ends.
        let key = try connection.core.open()
        let outcome = Outcome()
        let reading = Task {
            do {
                _ = try await connection.core.read(key)
                outcome.set("read")
            } catch {
                outcome.set("\(error)")
            }
        }
        #expect(
            await eventually {
                if outcome.value == nil { clock.advance(by: 5) }
                return outcome.value != nil
            })
        await reading.value
        #expect(outcome.value == "\(P2PError.reset)")
        #expect(try await Self.echo(connection, "after") == "after")
        connection.close()
        await listener.close()
        _ = await serving.result
    }

    @Test func streamsPerConnectionAndConnectionsPerPeerAreCapped() async throws {
        let clock = ManualScheduler(start: 1_700_000_000_000_000_000)
        let (host, listener, serving) = try await Self.echoHost(clock) {
            $0.maximumStreamsPerConnection = 2
            $0.maximumConnectionsPerPeer = 1
        }
        let identity = try PrivateKey.generate(.ed25519)
        let client = P2PHost(identity: identity, clock: clock)
        let address = try #require(listener.address)
        let connection = try await client.dial(address)
        // Two streams held open, the third is refused by the listener.
        let first = try await connection.newStream(["/echo/1.0.0"])
        let second = try await connection.newStream(["/echo/1.0.0"])
        await #expect(throws: P2PError.self) { _ = try await connection.newStream(["/echo/1.0.0"]) }
        first.close()
        second.close()

        // A second connection with the same identity is closed once the peer is known.
        let twin = P2PHost(identity: identity, clock: clock)
        let duplicate = try? await twin.dial(address)
        if let duplicate { await duplicate.closed() }
        #expect(await eventually { host.openConnections == 1 })
        #expect(try await Self.echo(connection, "one") == "one")
        connection.close()
        await listener.close()
        _ = await serving.result
    }
}
