import StoreSyncP2P
import Synchronization

/// A client's libp2p connection to one node: dialled on first use (callers that ask meanwhile
/// share that dial), dialled again once it has closed, and closed when the last copy of the
/// client goes.
final class Libp2pDialer: Sendable {
    let address: Multiaddr
    let host: P2PHost
    private let dialing = Mutex<Task<P2PConnection, any Error>?>(nil)

    init(address: Multiaddr, host: P2PHost) {
        self.address = address
        self.host = host
    }

    deinit {
        close()
    }

    /// Closes the connection, once its dial has finished.
    func close() {
        if let task = dialing.withLock({ $0 }) {
            Task { try? await task.value.close() }
        }
    }

    /// The open connection, dialling it if there is none.
    func connection() async throws -> P2PConnection {
        while true {
            let task = dialing.withLock { current in
                if let current { return current }
                let host = self.host
                let address = self.address
                let fresh = Task { try await host.dial(address) }
                current = fresh
                return fresh
            }
            do {
                let connection = try await task.value
                if connection.isActive { return connection }
                dialing.withLock { if $0 == task { $0 = nil } }
            } catch {
                dialing.withLock { if $0 == task { $0 = nil } }
                throw error
            }
        }
    }
}
