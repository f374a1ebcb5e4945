import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres
import StoreSyncTestSupport
import Testing

@Suite("PostgreSQL archive")
struct PostgresArchiveTests {
    @Test func aServerOfItsOwnStartsAndStops() async throws {
        let server = try await PostgresServer.start()
        print("started")
        let answer = try await server.psql("SELECT 40 + 2")
        print("psql done")
        #expect(answer.trimmingCharacters(in: .whitespacesAndNewlines) == "42")
        await server.stop()
    }
}
