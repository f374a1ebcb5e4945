import CLMDB
import Foundation

extension LMDBEnvironment {
    /// The data file's size and the pages in use: summed over every database's tree (the free
    /// list and the main database included) in one read snapshot.
    func usage() throws -> DiskUsage {
        let (pageSize, used) = try read { txn -> (Int, Int) in
            let dbs = databases
            var pages = 2  // the two meta pages
            var pageSize = 4_096
            for dbi in [0, 1, dbs.meta, dbs.scopes, dbs.nodes, dbs.messages, dbs.contentTopics] {
                var stat = MDB_stat()
                try StoreError.check(mdb_stat(txn.pointer, dbi, &stat), "stat database \(dbi)")
                pages += Int(stat.ms_branch_pages) + Int(stat.ms_leaf_pages) + Int(stat.ms_overflow_pages)
                pageSize = Int(stat.ms_psize)
            }
            return (pageSize, pages)
        }
        var info = MDB_envinfo()
        try StoreError.check(mdb_env_info(pointer, &info), "env info")
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: dataFilePath)[.size] as? Int) ?? 0
        return DiskUsage(
            fileBytes: fileBytes, mapBytes: currentMapSize, maximumMapBytes: configuration.effectiveMaximumMapSize,
            pageSize: pageSize, usedPages: used, allocatedPages: Int(info.me_last_pgno) + 1)
    }
}
