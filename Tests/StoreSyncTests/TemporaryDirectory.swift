import Foundation

/// A directory under the system's temporary directory, removed when the test is done with it.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "storesync") throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "\(label)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func sub(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
