import Foundation

/// Runs a fuzz target's `main`: built with `-DFUZZING` (and `-sanitize=fuzzer`), hands control to
/// libFuzzer's driver with the target's C callback; otherwise replays the files and directories
/// named on the command line through `fuzzOne`, the way tests and CI replay a corpus without the
/// fuzzer runtime. Never returns.
public func runFuzzTarget(
    callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32,
    fuzzOne: ([UInt8]) -> Void,
    cleanUp: () -> Void = {}
) -> Never {
    #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        let status = llvmFuzzerRunDriver(&argc, &argv, callback)
        cleanUp()
        exit(status)
    #else
        var replayed = 0
        for path in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("no such file: \(path)\n".utf8))
                cleanUp()
                exit(2)
            }
            let files =
                isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                fuzzOne(Array(data))
                replayed += 1
            }
        }
        cleanUp()
        print("replayed \(replayed) inputs without a failure")
        exit(0)
    #endif
}

/// Stops the process with a message when a property the target checks does not hold; libFuzzer
/// records the input as a crash.
public func fuzzCheck(_ condition: Bool, _ message: String) {
    if !condition {
        FileHandle.standardError.write(Data("property violated: \(message)\n".utf8))
        abort()
    }
}

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func llvmFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32
#endif
