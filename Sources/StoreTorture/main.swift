import Foundation
import StoreSyncCore
import StoreSyncLMDB

// store-torture DIR FIRST_BATCH BATCH_SIZE: ingests batch after batch of deterministic messages
// into the store at DIR, printing "committed N" after each commit returns. The crash-safety test
// kills it with SIGKILL at random moments and checks every reported batch is whole and no batch
// is half there. Stops by itself after 100 000 batches.

/// The messages of batch `batch`; each payload starts "batch N message I ", which is how the
/// checker tells the batches apart.
func tortureBatch(_ batch: Int, size: Int) throws -> [WakuMessage] {
    try (0..<size).map { index in
        let serial = batch * size + index
        return try WakuMessage(
            pubsubTopic: serial % 3 == 0 ? "/waku/2/rs/0/1" : "/waku/2/rs/0/0",
            contentTopic: "/torture/1/t\(serial % 5)/proto",
            payload: Array("batch \(batch) message \(index) ".utf8)
                + [UInt8](repeating: UInt8(serial % 251), count: 100),
            timestamp: 1_700_000_000_000_000_000 + Int64(serial) * 1_000_003
        )
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let first = Int(arguments[2]), let size = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: store-torture DIR FIRST_BATCH BATCH_SIZE\n".utf8))
    exit(2)
}
do {
    let store = try MessageStore(StoreConfiguration(directory: arguments[1], initialMapSize: 1 << 20))
    for batch in first..<(first + 100_000) {
        let result = try store.ingest(try tortureBatch(batch, size: size))
        guard result.stored + result.duplicates == size else {
            FileHandle.standardError.write(Data("batch \(batch): unexpected outcomes \(result.outcomes)\n".utf8))
            exit(1)
        }
        FileHandle.standardOutput.write(Data("committed \(batch)\n".utf8))
    }
} catch {
    FileHandle.standardError.write(Data("store-torture: \(error)\n".utf8))
    exit(1)
}
