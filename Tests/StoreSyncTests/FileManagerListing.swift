import Foundation

enum FileManagerListing {
    static func jsonNames(in directory: URL) throws -> Set<String> {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        return Set(names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) })
    }
}
