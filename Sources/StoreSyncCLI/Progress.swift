import Foundation

/// A progress line on standard error for long work: rewritten in place on a terminal, a line per
/// tenth of the work otherwise (so logs stay short).
final class Progress {
    private let total: Int
    private let label: String
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastShown = -1

    init(total: Int, label: String) {
        self.total = max(total, 1)
        self.label = label
    }

    func update(_ done: Int) {
        let percent = done * 100 / total
        let step = interactive ? 1 : 10
        guard percent / step != lastShown / step || done == total else { return }
        guard percent != lastShown else { return }
        lastShown = percent
        let line = "\(label): \(done)/\(total) (\(percent)%)"
        let text = interactive ? "\r\(line)" + (done == total ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
