/*
 * storesync.h: the C API of StoreSync's sync engine (libstoresync.so).
 *
 * Compatibility: storesync_abi_version() returns STORESYNC_ABI_VERSION of the library that was
 * built. Within one ABI version, functions, types and status codes are only ever added, never
 * changed or removed, and every struct keeps its layout; a change to any of them raises the
 * version. A program built against this header should check at start that
 * storesync_abi_version() == STORESYNC_ABI_VERSION.
 *
 * Errors: every function that can fail returns a storesync_status; STORESYNC_OK is 0. When
 * `error` is not NULL and the call fails, *error is set to a message (UTF-8, NUL-terminated)
 * owned by the caller, to be freed with storesync_string_free; on success *error is set to NULL.
 * No Swift error, trap or panic crosses this boundary for bad input: a NULL handle, an id that is
 * not 32 bytes, a malformed message from a peer, a handle used in the wrong role all return a
 * status. Passing a pointer that is not a live handle of the right type, or a buffer shorter than
 * its length says, is undefined behaviour, as anywhere in C.
 *
 * Ownership: handles are created by a *_new or *_open function and freed by the matching
 * *_free or *_close exactly once; NULL may be passed to every free function. Every buffer the
 * library returns (storesync_buffer, storesync_step, error messages) is owned by the caller and
 * freed with its free function; inputs are borrowed for the duration of the call only.
 *
 * Threads: a storesync_store may be used from several threads at once (it is the LMDB
 * environment; reads run in parallel, writes are serialised). Every other handle (storages,
 * engines) must be used by one thread at a time; different handles may be used from different
 * threads. A storage must outlive the engines and views that use it, and a store the storages
 * made from it.
 */
#ifndef STORESYNC_H
#define STORESYNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STORESYNC_ABI_VERSION 1u

/* Status codes. */
typedef int32_t storesync_status;
enum {
    STORESYNC_OK = 0,
    /* A required pointer argument (handle, output, input buffer) was NULL. */
    STORESYNC_ERR_NULL_ARGUMENT = 1,
    /* An argument is out of its domain: an id that is not 32 bytes, an unknown policy, a frame
       size limit below 4096, an empty index name, a window whose end is before its start. */
    STORESYNC_ERR_INVALID_ARGUMENT = 2,
    /* A handle of another kind, or used in a way its state does not allow: inserting into a
       sealed storage, reconciling with an unsealed one. */
    STORESYNC_ERR_INVALID_STATE = 3,
    /* A message from the peer that does not decode, or breaks a decoding bound. */
    STORESYNC_ERR_MALFORMED_MESSAGE = 4,
    /* The session cannot go on: the engine used in the wrong role, a bound on rounds or keys. */
    STORESYNC_ERR_PROTOCOL = 5,
    /* The LMDB store failed: not a store, unsupported format, map full, I/O. */
    STORESYNC_ERR_STORE = 6
};

/* Split policies of the Negentropy engine. */
typedef int32_t storesync_policy;
enum {
    /* The reference implementation's (16 equal parts): reproduces its transcripts byte for byte. */
    STORESYNC_POLICY_REFERENCE = 0,
    /* This project's adaptive splitting: fewer bytes per difference, same outcome. */
    STORESYNC_POLICY_ADAPTIVE = 1
};

/* Opaque handles. */
typedef struct storesync_storage storesync_storage;
typedef struct storesync_store storesync_store;
typedef struct storesync_engine storesync_engine;
typedef struct storesync_waku_engine storesync_waku_engine;

/* Bytes returned by the library; free with storesync_buffer_free. */
typedef struct storesync_buffer {
    uint8_t *data;
    size_t length;
} storesync_buffer;

/* One step of a session: the message to send next (data NULL, length 0 when the session is
   over), and the ids this side has and the peer lacks, and the ids the peer has and this side
   lacks, each `count` ids of 32 bytes one after the other. Free with storesync_step_free. */
typedef struct storesync_step {
    storesync_buffer next_message;
    uint8_t *have;
    size_t have_count;
    uint8_t *need;
    size_t need_count;
} storesync_step;

/* The ABI version of the library (see the compatibility promise above). Never fails. */
uint32_t storesync_abi_version(void);

/* Frees an error message; NULL is ignored. */
void storesync_string_free(char *message);
/* Frees a buffer's bytes and zeroes it; NULL is ignored. */
void storesync_buffer_free(storesync_buffer *buffer);
/* Frees a step's bytes and zeroes it; NULL is ignored. */
void storesync_step_free(storesync_step *step);

/* ---- Storage in memory -------------------------------------------------------------------- */

/* A new, empty storage in memory. Insert and erase keys, then seal it before an engine reads
   it; a sealed storage takes no more changes. *out is owned by the caller: storesync_storage_free.
   The id arguments below are borrowed for the call. */
storesync_status storesync_memory_new(storesync_storage **out, char **error);
/* Adds the key (timestamp, id); id_length must be 32. A key already there stays once. */
storesync_status storesync_memory_insert(
    storesync_storage *storage, uint64_t timestamp, const uint8_t *id, size_t id_length, char **error);
/* Removes the key (timestamp, id) if present. */
storesync_status storesync_memory_erase(
    storesync_storage *storage, uint64_t timestamp, const uint8_t *id, size_t id_length, char **error);
/* Sorts the keys and freezes the storage. */
storesync_status storesync_memory_seal(storesync_storage *storage, char **error);

/* ---- The LMDB store --------------------------------------------------------------------- */

/* Opens (creating if needed) the LMDB store in `directory`. *out is owned by the caller
   (storesync_store_close) and may be used from several threads at once. */
storesync_status storesync_store_open(const char *directory, storesync_store **out, char **error);
/* Closes the store; storages made from it must be freed first. */
void storesync_store_close(storesync_store *store);
/* Adds `count` keys to the key index `index` (made if needed): timestamps[i] with the 32 bytes
   at ids + 32 * i. *inserted (if not NULL) gets how many were new. One write transaction. */
storesync_status storesync_store_insert_keys(
    storesync_store *store, const char *index, const uint64_t *timestamps, const uint8_t *ids, size_t count,
    uint64_t *inserted, char **error);
/* The number of keys in the key index `index` (0 if it does not exist). */
storesync_status storesync_store_count(storesync_store *store, const char *index, uint64_t *out, char **error);
/* A storage reading the key index `index`: every engine call reads one snapshot of it, so keys
   inserted meanwhile (from any thread, through the store) show at the next call. *out is owned by
   the caller (storesync_storage_free), used by one thread at a time, and must be freed before
   the store is closed. */
storesync_status storesync_store_index(
    storesync_store *store, const char *index, storesync_storage **out, char **error);

/* ---- Views and common calls ----------------------------------------------------------------- */

/* A view of `base` holding only keys with timestamps in [start, end), like the reference's
   SubRange. *out is owned by the caller (storesync_storage_free); `base` must outlive it. */
storesync_status storesync_subrange_new(
    storesync_storage *base, uint64_t start, uint64_t end, storesync_storage **out, char **error);
/* The number of keys a storage holds (for a view, those in its window). */
storesync_status storesync_storage_count(storesync_storage *storage, uint64_t *out, char **error);
/* Frees a storage or a view; NULL is ignored. */
void storesync_storage_free(storesync_storage *storage);

/* ---- Negentropy v1 ------------------------------------------------------------------------ */

/* A new engine; frame_size_limit 0 for none, else at least 4096 bytes. One session per engine:
   it becomes the initiator on storesync_engine_initiate, the responder on the first
   storesync_engine_respond. *out is owned by the caller (storesync_engine_free) and used by one
   thread at a time. */
storesync_status storesync_engine_new(
    uint64_t frame_size_limit, storesync_policy policy, storesync_engine **out, char **error);
void storesync_engine_free(storesync_engine *engine);
/* The initiator's first message, over every key of `storage`, into *message, owned by the caller
   (storesync_buffer_free). */
storesync_status storesync_engine_initiate(
    storesync_engine *engine, storesync_storage *storage, storesync_buffer *message, char **error);
/* The responder's answer to one message of the initiator (borrowed), into *reply, owned by the
   caller (storesync_buffer_free). A message of a protocol version this side does not speak is
   answered with the version it does, as Negentropy negotiates. */
storesync_status storesync_engine_respond(
    storesync_engine *engine, storesync_storage *storage, const uint8_t *message, size_t length,
    storesync_buffer *reply, char **error);
/* The initiator takes one reply (borrowed): *step gets the next message (none when reconciled)
   and the ids learnt, owned by the caller (storesync_step_free). */
storesync_status storesync_engine_reconcile(
    storesync_engine *engine, storesync_storage *storage, const uint8_t *message, size_t length,
    storesync_step *step, char **error);

/* ---- The reference Waku node's store sync (/vac/waku/reconciliation/1.0.0) ---------------- */

/* A new engine of the reference node's range protocol (XOR fingerprints, item sets of up to
   100 keys, 8 parts), over keys without topics. *out is owned by the caller
   (storesync_waku_engine_free) and used by one thread at a time. */
storesync_status storesync_waku_engine_new(storesync_waku_engine **out, char **error);
void storesync_waku_engine_free(storesync_waku_engine *engine);
/* The first payload of a session over the timestamps [start, end] (both included), into
   *payload, owned by the caller (storesync_buffer_free). */
storesync_status storesync_waku_engine_initiate(
    storesync_waku_engine *engine, storesync_storage *storage, uint64_t start, uint64_t end,
    storesync_buffer *payload, char **error);
/* Takes one payload of the peer (either role; borrowed). *step, owned by the caller
   (storesync_step_free), holds the reply to send: data NULL for none, else `length` bytes,
   possibly 0 (an empty payload is sent as such); have and need are what each side lacks. *done
   is set to 1 when the session is over once that reply is sent, else 0. */
storesync_status storesync_waku_engine_receive(
    storesync_waku_engine *engine, storesync_storage *storage, const uint8_t *payload, size_t length,
    storesync_step *step, int32_t *done, char **error);

/* ---- Message identity ---------------------------------------------------------------------- */

/* The 14/WAKU2-MESSAGE hash of a message into out[32] (32 bytes the caller provides): SHA-256
   over the pubsub topic, payload, content topic, meta (NULL for none, at most 64 bytes) and the
   timestamp as 8 bytes big-endian. All inputs are borrowed. */
storesync_status storesync_message_hash(
    const char *pubsub_topic, const char *content_topic, const uint8_t *payload, size_t payload_length,
    const uint8_t *meta, size_t meta_length, int64_t timestamp, uint8_t *out, char **error);

#ifdef __cplusplus
}
#endif

#endif /* STORESYNC_H */
