"""A Python client of libstoresync.so through ctypes: replays a Negentropy reference transcript
(Tests/Vectors/negentropy/*.json) over two in-memory storages and over two LMDB stores, checking
every message byte for byte and the ids the client learns, then checks error codes and messages.

    python3 storesync_ctypes.py LIBRARY TRANSCRIPT.json WORKDIR
"""
import ctypes
import json
import os
import sys

OK, NULL_ARGUMENT, INVALID_ARGUMENT, INVALID_STATE, MALFORMED_MESSAGE, PROTOCOL, STORE = range(7)
POLICY_REFERENCE = 0
ABI_VERSION = 1


class Buffer(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("length", ctypes.c_size_t)]


class Step(ctypes.Structure):
    _fields_ = [
        ("next_message", Buffer),
        ("have", ctypes.POINTER(ctypes.c_uint8)),
        ("have_count", ctypes.c_size_t),
        ("need", ctypes.POINTER(ctypes.c_uint8)),
        ("need_count", ctypes.c_size_t),
    ]


class StoreSyncError(Exception):
    def __init__(self, status, message):
        super().__init__(f"status {status}: {message}")
        self.status = status


def load(path):
    lib = ctypes.CDLL(path)
    handle = ctypes.c_void_p
    handle_out = ctypes.POINTER(ctypes.c_void_p)
    error = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "storesync_abi_version": ([], ctypes.c_uint32),
        "storesync_string_free": ([ctypes.c_void_p], None),
        "storesync_buffer_free": ([ctypes.POINTER(Buffer)], None),
        "storesync_step_free": ([ctypes.POINTER(Step)], None),
        "storesync_memory_new": ([handle_out, error], ctypes.c_int32),
        "storesync_memory_insert": ([handle, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t, error], ctypes.c_int32),
        "storesync_memory_seal": ([handle, error], ctypes.c_int32),
        "storesync_storage_free": ([handle], None),
        "storesync_store_open": ([ctypes.c_char_p, handle_out, error], ctypes.c_int32),
        "storesync_store_close": ([handle], None),
        "storesync_store_insert_keys": (
            [handle, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64), ctypes.c_char_p, ctypes.c_size_t,
             ctypes.POINTER(ctypes.c_uint64), error], ctypes.c_int32),
        "storesync_store_index": ([handle, ctypes.c_char_p, handle_out, error], ctypes.c_int32),
        "storesync_engine_new": ([ctypes.c_uint64, ctypes.c_int32, handle_out, error], ctypes.c_int32),
        "storesync_engine_free": ([handle], None),
        "storesync_engine_initiate": ([handle, handle, ctypes.POINTER(Buffer), error], ctypes.c_int32),
        "storesync_engine_respond": (
            [handle, handle, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Buffer), error], ctypes.c_int32),
        "storesync_engine_reconcile": (
            [handle, handle, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Step), error], ctypes.c_int32),
    }
    for name, (arguments, result) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = arguments
        function.restype = result
    return lib


class Library:
    """The calls this client needs, raising StoreSyncError with the library's message."""

    def __init__(self, path):
        self.lib = load(path)
        if self.lib.storesync_abi_version() != ABI_VERSION:
            raise SystemExit(f"library ABI {self.lib.storesync_abi_version()}, expected {ABI_VERSION}")

    def call(self, name, *arguments):
        message = ctypes.c_void_p()
        status = getattr(self.lib, name)(*arguments, ctypes.byref(message))
        if status != OK:
            text = ctypes.string_at(message.value).decode() if message.value else ""
            self.lib.storesync_string_free(message)
            raise StoreSyncError(status, text)

    def take(self, buffer):
        """The bytes of a returned buffer, which is then freed."""
        data = ctypes.string_at(buffer.data, buffer.length) if buffer.data else None
        self.lib.storesync_buffer_free(ctypes.byref(buffer))
        return data

    def memory(self, items):
        storage = ctypes.c_void_p()
        self.call("storesync_memory_new", ctypes.byref(storage))
        for timestamp, id_hex in items:
            identifier = bytes.fromhex(id_hex)
            self.call("storesync_memory_insert", storage, timestamp, identifier, len(identifier))
        self.call("storesync_memory_seal", storage)
        return storage

    def lmdb(self, directory, items):
        store = ctypes.c_void_p()
        self.call("storesync_store_open", directory.encode(), ctypes.byref(store))
        timestamps = (ctypes.c_uint64 * max(1, len(items)))(*[timestamp for timestamp, _ in items])
        ids = b"".join(bytes.fromhex(id_hex) for _, id_hex in items)
        inserted = ctypes.c_uint64()
        self.call("storesync_store_insert_keys", store, b"keys", timestamps, ids, len(items), ctypes.byref(inserted))
        assert inserted.value == len(items), (inserted.value, len(items))
        storage = ctypes.c_void_p()
        self.call("storesync_store_index", store, b"keys", ctypes.byref(storage))
        return store, storage

    def engine(self, frame_limit):
        engine = ctypes.c_void_p()
        self.call("storesync_engine_new", frame_limit, POLICY_REFERENCE, ctypes.byref(engine))
        return engine


def replay(library, vector, client, server, label):
    initiator = library.engine(vector["client_frame_size_limit"])
    responder = library.engine(vector["server_frame_size_limit"])
    buffer = Buffer()
    library.call("storesync_engine_initiate", initiator, client, ctypes.byref(buffer))
    outgoing = library.take(buffer)
    sent = []
    have, need = set(), set()
    while outgoing is not None:
        sent.append(("client", outgoing.hex()))
        reply = Buffer()
        library.call("storesync_engine_respond", responder, server, outgoing, len(outgoing), ctypes.byref(reply))
        answer = library.take(reply)
        sent.append(("server", answer.hex()))
        step = Step()
        library.call("storesync_engine_reconcile", initiator, client, answer, len(answer), ctypes.byref(step))
        have.update(ctypes.string_at(step.have, 32 * step.have_count)[i:i + 32].hex()
                    for i in range(0, 32 * step.have_count, 32))
        need.update(ctypes.string_at(step.need, 32 * step.need_count)[i:i + 32].hex()
                    for i in range(0, 32 * step.need_count, 32))
        outgoing = (ctypes.string_at(step.next_message.data, step.next_message.length)
                    if step.next_message.data else None)
        library.lib.storesync_step_free(ctypes.byref(step))
    expected = [(message["from"], message["hex"]) for message in vector["messages"]]
    assert sent == expected, f"{label}: messages differ"
    assert have == set(vector["client_have"]), f"{label}: have differs"
    assert need == set(vector["client_need"]), f"{label}: need differs"
    library.lib.storesync_engine_free(initiator)
    library.lib.storesync_engine_free(responder)


def main():
    library_path, transcript, workdir = sys.argv[1:4]
    library = Library(library_path)
    with open(transcript) as file:
        vector = json.load(file)
    client = library.memory(vector["client_items"])
    server = library.memory(vector["server_items"])
    replay(library, vector, client, server, "memory")
    library.lib.storesync_storage_free(client)
    library.lib.storesync_storage_free(server)

    client_store, client = library.lmdb(os.path.join(workdir, "python-client"), vector["client_items"])
    server_store, server = library.lmdb(os.path.join(workdir, "python-server"), vector["server_items"])
    replay(library, vector, client, server, "lmdb")
    for storage in (client, server):
        library.lib.storesync_storage_free(storage)
    for store in (client_store, server_store):
        library.lib.storesync_store_close(store)

    storage = ctypes.c_void_p()
    library.call("storesync_memory_new", ctypes.byref(storage))
    try:
        library.call("storesync_memory_insert", storage, 1, b"short", 5)
        raise SystemExit("a 5-byte id was accepted")
    except StoreSyncError as error:
        assert error.status == INVALID_ARGUMENT and "32 bytes" in str(error), error
    library.call("storesync_memory_seal", storage)
    engine = library.engine(0)
    try:
        reply = Buffer()
        library.call("storesync_engine_respond", engine, storage, b"\x61\xff", 2, ctypes.byref(reply))
        raise SystemExit("a malformed message was accepted")
    except StoreSyncError as error:
        assert error.status == MALFORMED_MESSAGE, error
    library.lib.storesync_engine_free(engine)
    library.lib.storesync_storage_free(storage)
    print("all checks passed")


if __name__ == "__main__":
    main()
