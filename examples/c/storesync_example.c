/*
 * storesync_example: the C API of libstoresync.so end to end.
 *
 *   storesync_example transcript FILE WORKDIR
 *       Replays a Negentropy reference transcript (the line form of Tests/Vectors/negentropy,
 *       see transcript format below) twice, over two in-memory storages and over two LMDB
 *       stores in WORKDIR, checking every message byte for byte and the ids each side learns;
 *       then drives every error path of the API. Exit status 0 when all holds.
 *   storesync_example bench N D WORKDIR
 *       Reconciles N vs N keys differing in D over the library, on memory and on LMDB, and
 *       prints the time of each session (keys from the generator shared with capi-bench).
 *
 * Transcript format, one record per line: "limits CLIENT SERVER" (frame size limits), "client
 * TIMESTAMP HEXID" and "server TIMESTAMP HEXID" (items), "message client|server HEX" (in order),
 * "have HEXID" and "need HEXID" (what the client ends up with).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storesync.h"

static int failures = 0;

#define CHECK(condition, ...)                                                                   \
    do {                                                                                        \
        if (!(condition)) {                                                                     \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__);                              \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fprintf(stderr, "\n");                                                              \
            failures++;                                                                         \
        }                                                                                       \
    } while (0)

/* Calls an API function that must succeed; on failure prints its message and exits. */
#define MUST(call)                                                                              \
    do {                                                                                        \
        char *must_error = NULL;                                                                \
        storesync_status must_status = (call);                                                  \
        (void)must_error;                                                                       \
        if (must_status != STORESYNC_OK) {                                                      \
            fprintf(stderr, "%s:%d: %s failed with %d\n", __FILE__, __LINE__, #call, must_status); \
            exit(2);                                                                            \
        }                                                                                       \
    } while (0)

/* ---- Transcripts ------------------------------------------------------------------------- */

typedef struct {
    uint64_t timestamp;
    uint8_t id[32];
} item;

typedef struct {
    int from_client;
    uint8_t *bytes;
    size_t length;
} message;

typedef struct {
    uint64_t client_limit, server_limit;
    item *client, *server, *have, *need;
    size_t client_count, server_count, have_count, need_count;
    message *messages;
    size_t message_count;
} transcript;

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint8_t *from_hex(const char *hex, size_t *length) {
    size_t digits = strlen(hex);
    while (digits > 0 && (hex[digits - 1] == '\n' || hex[digits - 1] == '\r')) digits--;
    if (digits % 2 != 0) return NULL;
    uint8_t *bytes = malloc(digits / 2 + 1);
    for (size_t i = 0; i < digits / 2; i++) {
        int high = hex_value(hex[2 * i]), low = hex_value(hex[2 * i + 1]);
        if (high < 0 || low < 0) {
            free(bytes);
            return NULL;
        }
        bytes[i] = (uint8_t)(high << 4 | low);
    }
    *length = digits / 2;
    return bytes;
}

static void push_item(item **items, size_t *count, uint64_t timestamp, const char *hex) {
    size_t length = 0;
    uint8_t *id = from_hex(hex, &length);
    if (id == NULL || length != 32) {
        fprintf(stderr, "bad id %s\n", hex);
        exit(2);
    }
    *items = realloc(*items, (*count + 1) * sizeof(item));
    (*items)[*count].timestamp = timestamp;
    memcpy((*items)[*count].id, id, 32);
    (*count)++;
    free(id);
}

static transcript load_transcript(const char *path) {
    transcript t = {0};
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        perror(path);
        exit(2);
    }
    size_t capacity = 0;
    char *line = NULL;
    ssize_t read;
    static char kind[16], side[16];
    while ((read = getline(&line, &capacity, file)) > 0) {
        uint64_t timestamp = 0;
        int offset = 0;
        if (sscanf(line, "%15s%n", kind, &offset) != 1) continue;
        const char *rest = line + offset;
        while (*rest == ' ') rest++;
        if (strcmp(kind, "limits") == 0) {
            sscanf(rest, "%" SCNu64 " %" SCNu64, &t.client_limit, &t.server_limit);
        } else if (strcmp(kind, "client") == 0 || strcmp(kind, "server") == 0) {
            int used = 0;
            sscanf(rest, "%" SCNu64 " %n", &timestamp, &used);
            if (kind[0] == 'c') push_item(&t.client, &t.client_count, timestamp, rest + used);
            else push_item(&t.server, &t.server_count, timestamp, rest + used);
        } else if (strcmp(kind, "have") == 0) {
            push_item(&t.have, &t.have_count, 0, rest);
        } else if (strcmp(kind, "need") == 0) {
            push_item(&t.need, &t.need_count, 0, rest);
        } else if (strcmp(kind, "message") == 0) {
            int used = 0;
            sscanf(rest, "%15s %n", side, &used);
            t.messages = realloc(t.messages, (t.message_count + 1) * sizeof(message));
            message *m = &t.messages[t.message_count++];
            m->from_client = strcmp(side, "client") == 0;
            m->bytes = from_hex(rest + used, &m->length);
            if (m->bytes == NULL) {
                fprintf(stderr, "bad message hex\n");
                exit(2);
            }
        }
    }
    free(line);
    fclose(file);
    return t;
}

static void free_transcript(transcript *t) {
    free(t->client);
    free(t->server);
    free(t->have);
    free(t->need);
    for (size_t i = 0; i < t->message_count; i++) free(t->messages[i].bytes);
    free(t->messages);
}

/* Whether `ids` (count x 32 bytes) are exactly the ids of `items`, in any order. */
static int same_ids(const uint8_t *ids, size_t count, const item *items, size_t item_count) {
    if (count != item_count) return 0;
    for (size_t i = 0; i < item_count; i++) {
        int found = 0;
        for (size_t j = 0; j < count && !found; j++) found = memcmp(ids + 32 * j, items[i].id, 32) == 0;
        if (!found) return 0;
    }
    return 1;
}

/* ---- Replaying a transcript ------------------------------------------------------------- */

/* Runs the session of `t` between two storages; checks every message and the final ids. */
static void replay(const transcript *t, storesync_storage *client, storesync_storage *server, const char *label) {
    storesync_engine *initiator = NULL, *responder = NULL;
    MUST(storesync_engine_new(t->client_limit, STORESYNC_POLICY_REFERENCE, &initiator, NULL));
    MUST(storesync_engine_new(t->server_limit, STORESYNC_POLICY_REFERENCE, &responder, NULL));
    storesync_buffer outgoing = {0};
    MUST(storesync_engine_initiate(initiator, client, &outgoing, NULL));
    uint8_t *have = NULL, *need = NULL;
    size_t have_count = 0, need_count = 0;
    size_t index = 0;
    int done = 0;
    while (!done) {
        CHECK(index < t->message_count && t->messages[index].from_client, "%s: client message %zu", label, index);
        if (index < t->message_count) {
            CHECK(outgoing.length == t->messages[index].length &&
                      memcmp(outgoing.data, t->messages[index].bytes, outgoing.length) == 0,
                  "%s: client message %zu differs", label, index);
        }
        index++;
        storesync_buffer reply = {0};
        MUST(storesync_engine_respond(responder, server, outgoing.data, outgoing.length, &reply, NULL));
        storesync_buffer_free(&outgoing);
        CHECK(index < t->message_count && !t->messages[index].from_client, "%s: server message %zu", label, index);
        if (index < t->message_count) {
            CHECK(reply.length == t->messages[index].length &&
                      memcmp(reply.data, t->messages[index].bytes, reply.length) == 0,
                  "%s: server message %zu differs", label, index);
        }
        index++;
        storesync_step step = {0};
        MUST(storesync_engine_reconcile(initiator, client, reply.data, reply.length, &step, NULL));
        storesync_buffer_free(&reply);
        have = realloc(have, (have_count + step.have_count) * 32 + 1);
        memcpy(have + 32 * have_count, step.have, 32 * step.have_count);
        have_count += step.have_count;
        need = realloc(need, (need_count + step.need_count) * 32 + 1);
        memcpy(need + 32 * need_count, step.need, 32 * step.need_count);
        need_count += step.need_count;
        if (step.next_message.data == NULL) {
            done = 1;
        } else {
            outgoing = step.next_message;
            step.next_message.data = NULL;
            step.next_message.length = 0;
        }
        storesync_step_free(&step);
    }
    CHECK(index == t->message_count, "%s: %zu messages, the transcript has %zu", label, index, t->message_count);
    CHECK(same_ids(have, have_count, t->have, t->have_count), "%s: have differs", label);
    CHECK(same_ids(need, need_count, t->need, t->need_count), "%s: need differs", label);
    free(have);
    free(need);
    storesync_engine_free(initiator);
    storesync_engine_free(responder);
}

static storesync_storage *memory_storage(const item *items, size_t count) {
    storesync_storage *storage = NULL;
    MUST(storesync_memory_new(&storage, NULL));
    for (size_t i = 0; i < count; i++) MUST(storesync_memory_insert(storage, items[i].timestamp, items[i].id, 32, NULL));
    MUST(storesync_memory_seal(storage, NULL));
    return storage;
}

static void load_index(storesync_store *store, const char *index, const item *items, size_t count) {
    uint64_t *timestamps = malloc(count * sizeof(uint64_t) + 1);
    uint8_t *ids = malloc(count * 32 + 1);
    for (size_t i = 0; i < count; i++) {
        timestamps[i] = items[i].timestamp;
        memcpy(ids + 32 * i, items[i].id, 32);
    }
    uint64_t inserted = 0, counted = 0;
    MUST(storesync_store_insert_keys(store, index, timestamps, ids, count, &inserted, NULL));
    MUST(storesync_store_count(store, index, &counted, NULL));
    CHECK(inserted == count && counted == count, "index %s: inserted %" PRIu64 " of %zu", index, inserted, count);
    free(timestamps);
    free(ids);
}

/* ---- Error paths ------------------------------------------------------------------------ */

/* Expects `status` to be `expected` with a message, and frees the message. */
static void expect_error(storesync_status status, char *error, storesync_status expected, const char *what) {
    CHECK(status == expected, "%s: status %d, expected %d", what, status, expected);
    CHECK(error != NULL && strlen(error) > 0, "%s: no message", what);
    storesync_string_free(error);
}

/* Runs `call` (which writes its message to `error`) and checks its status and message. */
#define EXPECT(expected, what, call)                                                            \
    do {                                                                                        \
        error = NULL;                                                                           \
        storesync_status expect_status = (call);                                                \
        expect_error(expect_status, error, (expected), (what));                                 \
    } while (0)

static void error_paths(const char *workdir) {
    char *error = NULL;
    uint8_t id[32] = {1};
    storesync_storage *storage = NULL;
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "memory_new(NULL)", storesync_memory_new(NULL, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "insert into NULL", storesync_memory_insert(NULL, 1, id, 32, &error));
    MUST(storesync_memory_new(&storage, NULL));
    EXPECT(STORESYNC_ERR_INVALID_ARGUMENT, "31-byte id", storesync_memory_insert(storage, 1, id, 31, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "NULL id", storesync_memory_insert(storage, 1, NULL, 32, &error));
    MUST(storesync_memory_insert(storage, 1, id, 32, NULL));
    /* The status alone, without a message. */
    CHECK(storesync_memory_erase(storage, 1, id, 33, NULL) == STORESYNC_ERR_INVALID_ARGUMENT, "33-byte id");

    storesync_engine *engine = NULL;
    EXPECT(STORESYNC_ERR_INVALID_ARGUMENT, "frame limit 100", storesync_engine_new(100, STORESYNC_POLICY_REFERENCE, &engine, &error));
    EXPECT(STORESYNC_ERR_INVALID_ARGUMENT, "policy 7", storesync_engine_new(0, 7, &engine, &error));
    MUST(storesync_engine_new(0, STORESYNC_POLICY_ADAPTIVE, &engine, NULL));
    storesync_buffer buffer = {0};
    EXPECT(STORESYNC_ERR_INVALID_STATE, "unsealed storage", storesync_engine_initiate(engine, storage, &buffer, &error));
    MUST(storesync_memory_seal(storage, NULL));
    EXPECT(STORESYNC_ERR_INVALID_STATE, "insert into a sealed storage", storesync_memory_insert(storage, 2, id, 32, &error));
    /* A handle of the wrong kind. */
    EXPECT(STORESYNC_ERR_INVALID_STATE, "a storage passed as an engine", storesync_engine_initiate((storesync_engine *)storage, storage, &buffer, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "NULL output", storesync_engine_initiate(engine, storage, NULL, &error));
    const uint8_t garbage[] = {0x61, 0xff, 0xff, 0xff};
    EXPECT(STORESYNC_ERR_MALFORMED_MESSAGE, "malformed message", storesync_engine_respond(engine, storage, garbage, sizeof garbage, &buffer, &error));
    /* A version this side does not speak is answered with the version it does, as the
       protocol negotiates. */
    const uint8_t version[] = {0x62};
    storesync_engine *other = NULL;
    MUST(storesync_engine_new(0, STORESYNC_POLICY_REFERENCE, &other, NULL));
    MUST(storesync_engine_respond(other, storage, version, sizeof version, &buffer, NULL));
    CHECK(buffer.length == 1 && buffer.data[0] == 0x61, "the answer to version 0x62");
    storesync_buffer_free(&buffer);
    storesync_engine_free(other);
    MUST(storesync_engine_new(0, STORESYNC_POLICY_REFERENCE, &other, NULL));
    MUST(storesync_engine_initiate(other, storage, &buffer, NULL));
    storesync_buffer_free(&buffer);
    storesync_buffer_free(&buffer); /* freeing twice is harmless: the first free zeroed it */
    EXPECT(STORESYNC_ERR_PROTOCOL, "an initiator asked to respond", storesync_engine_respond(other, storage, version, sizeof version, &buffer, &error));
    storesync_step step = {0};
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "NULL message with a length", storesync_engine_reconcile(other, storage, NULL, 5, &step, &error));

    storesync_storage *window = NULL;
    EXPECT(STORESYNC_ERR_INVALID_ARGUMENT, "a window ending before its start", storesync_subrange_new(storage, 10, 5, &window, &error));
    MUST(storesync_subrange_new(storage, 0, 2, &window, NULL));
    uint64_t count = 0;
    MUST(storesync_storage_count(window, &count, NULL));
    CHECK(count == 1, "the window holds %" PRIu64 " keys", count);

    storesync_waku_engine *waku = NULL;
    MUST(storesync_waku_engine_new(&waku, NULL));
    int32_t done = 0;
    const uint8_t bad_payload[] = {0x05, 0x01};
    EXPECT(STORESYNC_ERR_MALFORMED_MESSAGE, "malformed store-sync payload", storesync_waku_engine_receive(waku, storage, bad_payload, sizeof bad_payload, &step, &done, &error));
    EXPECT(STORESYNC_ERR_INVALID_ARGUMENT, "a store-sync window ending before its start", storesync_waku_engine_initiate(waku, storage, 9, 3, &buffer, &error));

    uint8_t hash[32];
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "hash without a pubsub topic", storesync_message_hash(NULL, "/c", NULL, 0, NULL, 0, 1, hash, &error));
    uint8_t meta[65] = {0};
    EXPECT(STORESYNC_ERR_INVALID_ARGUMENT, "meta over 64 bytes", storesync_message_hash("/p", "/c", NULL, 0, meta, sizeof meta, 1, hash, &error));

    storesync_store *store = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/not-a-store", workdir);
    FILE *file = fopen(path, "w");
    if (file != NULL) {
        fputs("this is not an LMDB environment\n", file);
        fclose(file);
    }
    EXPECT(STORESYNC_ERR_STORE, "a file as a store", storesync_store_open(path, &store, &error));
    snprintf(path, sizeof path, "%s/errors-store", workdir);
    MUST(storesync_store_open(path, &store, NULL));
    EXPECT(STORESYNC_ERR_INVALID_ARGUMENT, "empty index name", storesync_store_count(store, "", &count, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "NULL keys", storesync_store_insert_keys(store, "i", NULL, NULL, 3, NULL, &error));

    /* Every other function's NULL and state errors. */
    EXPECT(STORESYNC_ERR_INVALID_STATE, "erase from a sealed storage", storesync_memory_erase(storage, 1, id, 32, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "seal NULL", storesync_memory_seal(NULL, &error));
    EXPECT(STORESYNC_ERR_INVALID_STATE, "seal twice", storesync_memory_seal(storage, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "engine_new(NULL)", storesync_engine_new(0, STORESYNC_POLICY_REFERENCE, NULL, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "count into NULL", storesync_storage_count(storage, NULL, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "count of NULL", storesync_storage_count(NULL, &count, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "a window of NULL", storesync_subrange_new(NULL, 0, 1, &window, &error));
    storesync_engine *fresh = NULL;
    MUST(storesync_engine_new(0, STORESYNC_POLICY_REFERENCE, &fresh, NULL));
    EXPECT(STORESYNC_ERR_PROTOCOL, "reconcile before initiating", storesync_engine_reconcile(fresh, storage, version, sizeof version, &step, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "respond into NULL", storesync_engine_respond(fresh, storage, version, sizeof version, NULL, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "initiate with NULL storage", storesync_engine_initiate(fresh, NULL, &buffer, &error));
    storesync_engine_free(fresh);
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "waku_engine_new(NULL)", storesync_waku_engine_new(NULL, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "receive without done", storesync_waku_engine_receive(waku, storage, bad_payload, sizeof bad_payload, &step, NULL, &error));
    EXPECT(STORESYNC_ERR_INVALID_STATE, "an engine passed as a store-sync engine", storesync_waku_engine_initiate((storesync_waku_engine *)engine, storage, 0, 1, &buffer, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "hash into NULL", storesync_message_hash("/p", "/c", NULL, 0, NULL, 0, 1, NULL, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "open NULL", storesync_store_open(NULL, &store, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "index into NULL", storesync_store_index(store, "i", NULL, &error));
    EXPECT(STORESYNC_ERR_NULL_ARGUMENT, "a NULL index name", storesync_store_count(store, NULL, &count, &error));
    EXPECT(STORESYNC_ERR_INVALID_STATE, "a storage passed as a store", storesync_store_count((storesync_store *)storage, "i", &count, &error));

    storesync_waku_engine_free(waku);
    storesync_storage_free(window);
    storesync_engine_free(other);
    storesync_engine_free(engine);
    storesync_storage_free(storage);
    storesync_store_close(store);
    /* NULL is ignored by every free function. */
    storesync_storage_free(NULL);
    storesync_engine_free(NULL);
    storesync_waku_engine_free(NULL);
    storesync_store_close(NULL);
    storesync_string_free(NULL);
    storesync_buffer_free(NULL);
    storesync_step_free(NULL);
}

/* Two in-memory sets reconciled by the store-sync engine: both sides learn the differences. */
static void waku_session(const transcript *t) {
    storesync_storage *client = memory_storage(t->client, t->client_count);
    storesync_storage *server = memory_storage(t->server, t->server_count);
    storesync_waku_engine *initiator = NULL, *responder = NULL;
    MUST(storesync_waku_engine_new(&initiator, NULL));
    MUST(storesync_waku_engine_new(&responder, NULL));
    storesync_buffer payload = {0};
    MUST(storesync_waku_engine_initiate(initiator, client, 0, UINT64_MAX - 1, &payload, NULL));
    size_t have = 0, need = 0;
    int turn = 0;
    for (int round = 0; round < 100; round++) {
        storesync_step step = {0};
        int32_t done = 0;
        MUST(storesync_waku_engine_receive(turn ? initiator : responder, turn ? client : server, payload.data,
                                           payload.length, &step, &done, NULL));
        storesync_buffer_free(&payload);
        if (turn) {
            have += step.have_count;
            need += step.need_count;
        } else {
            have += step.need_count;
            need += step.have_count;
        }
        int finished = done || step.next_message.data == NULL;
        payload = step.next_message;
        step.next_message.data = NULL;
        storesync_step_free(&step);
        if (finished) break;
        turn = !turn;
    }
    storesync_buffer_free(&payload);
    /* Each difference is learnt by both sides: counted twice, once from each. */
    CHECK(have == 2 * t->have_count && need == 2 * t->need_count,
          "store sync learnt %zu/%zu, expected %zu/%zu", have, need, 2 * t->have_count, 2 * t->need_count);
    storesync_waku_engine_free(initiator);
    storesync_waku_engine_free(responder);
    storesync_storage_free(client);
    storesync_storage_free(server);
}

/* ---- Benchmark ---------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The shared workload: `n` keys on each side, `d` one-sided, alternately client and server. */
static void workload(size_t n, size_t d, item **client, size_t *client_count, item **server, size_t *server_count) {
    size_t total = n + d - d / 2;
    uint64_t state = 1, timestamp = 1700000000000000000ull;
    *client = malloc(total * sizeof(item));
    *server = malloc(total * sizeof(item));
    *client_count = *server_count = 0;
    size_t next_one_sided = 0, j = 0;
    for (size_t i = 0; i < total; i++) {
        timestamp += splitmix(&state) % 7200000;
        item key = {.timestamp = timestamp};
        for (int word = 0; word < 4; word++) {
            uint64_t value = splitmix(&state);
            for (int byte = 0; byte < 8; byte++) key.id[8 * word + byte] = (uint8_t)(value >> (56 - 8 * byte));
        }
        int side = 0; /* 0 both, 1 client only, 2 server only */
        if (j < d && i == next_one_sided) {
            side = j % 2 == 0 ? 1 : 2;
            j++;
            next_one_sided = j * total / (d ? d : 1);
        }
        if (side != 2) (*client)[(*client_count)++] = key;
        if (side != 1) (*server)[(*server_count)++] = key;
    }
}

static double now_seconds(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

/* One Negentropy session (adaptive policy, no frame limit); returns its seconds. */
static double bench_session(storesync_storage *client, storesync_storage *server, size_t *differences) {
    storesync_engine *initiator = NULL, *responder = NULL;
    MUST(storesync_engine_new(0, STORESYNC_POLICY_ADAPTIVE, &initiator, NULL));
    MUST(storesync_engine_new(0, STORESYNC_POLICY_ADAPTIVE, &responder, NULL));
    double start = now_seconds();
    storesync_buffer outgoing = {0};
    MUST(storesync_engine_initiate(initiator, client, &outgoing, NULL));
    *differences = 0;
    while (outgoing.data != NULL) {
        storesync_buffer reply = {0};
        MUST(storesync_engine_respond(responder, server, outgoing.data, outgoing.length, &reply, NULL));
        storesync_buffer_free(&outgoing);
        storesync_step step = {0};
        MUST(storesync_engine_reconcile(initiator, client, reply.data, reply.length, &step, NULL));
        storesync_buffer_free(&reply);
        *differences += step.have_count + step.need_count;
        outgoing = step.next_message;
        step.next_message.data = NULL;
        storesync_step_free(&step);
    }
    double seconds = now_seconds() - start;
    storesync_engine_free(initiator);
    storesync_engine_free(responder);
    return seconds;
}

static void bench(size_t n, size_t d, const char *workdir) {
    item *client = NULL, *server = NULL;
    size_t client_count = 0, server_count = 0, differences = 0;
    workload(n, d, &client, &client_count, &server, &server_count);
    storesync_storage *a = memory_storage(client, client_count);
    storesync_storage *b = memory_storage(server, server_count);
    double best = 1e9;
    for (int run = 0; run < 3; run++) {
        double seconds = bench_session(a, b, &differences);
        if (seconds < best) best = seconds;
    }
    printf("c-api memory n=%zu d=%zu differences=%zu time=%.6fs\n", n, d, differences, best);
    storesync_storage_free(a);
    storesync_storage_free(b);

    char path[4096];
    snprintf(path, sizeof path, "%s/bench-store", workdir);
    storesync_store *store = NULL;
    MUST(storesync_store_open(path, &store, NULL));
    load_index(store, "client", client, client_count);
    load_index(store, "server", server, server_count);
    storesync_storage *x = NULL, *y = NULL;
    MUST(storesync_store_index(store, "client", &x, NULL));
    MUST(storesync_store_index(store, "server", &y, NULL));
    best = 1e9;
    for (int run = 0; run < 3; run++) {
        double seconds = bench_session(x, y, &differences);
        if (seconds < best) best = seconds;
    }
    printf("c-api lmdb n=%zu d=%zu differences=%zu time=%.6fs\n", n, d, differences, best);
    storesync_storage_free(x);
    storesync_storage_free(y);
    storesync_store_close(store);
    free(client);
    free(server);
}

int main(int argc, char **argv) {
    if (storesync_abi_version() != STORESYNC_ABI_VERSION) {
        fprintf(stderr, "library ABI %u, header %u\n", storesync_abi_version(), STORESYNC_ABI_VERSION);
        return 2;
    }
    if (argc == 5 && strcmp(argv[1], "bench") == 0) {
        bench((size_t)strtoull(argv[2], NULL, 10), (size_t)strtoull(argv[3], NULL, 10), argv[4]);
        return 0;
    }
    if (argc != 4 || strcmp(argv[1], "transcript") != 0) {
        fprintf(stderr, "usage: %s transcript FILE WORKDIR | bench N D WORKDIR\n", argv[0]);
        return 2;
    }
    transcript t = load_transcript(argv[2]);

    storesync_storage *client = memory_storage(t.client, t.client_count);
    storesync_storage *server = memory_storage(t.server, t.server_count);
    replay(&t, client, server, "memory");
    storesync_storage_free(client);
    storesync_storage_free(server);

    char path[4096];
    storesync_store *stores[2] = {NULL, NULL};
    for (int side = 0; side < 2; side++) {
        snprintf(path, sizeof path, "%s/store-%s", argv[3], side == 0 ? "client" : "server");
        MUST(storesync_store_open(path, &stores[side], NULL));
    }
    load_index(stores[0], "keys", t.client, t.client_count);
    load_index(stores[1], "keys", t.server, t.server_count);
    storesync_storage *lmdb_client = NULL, *lmdb_server = NULL;
    MUST(storesync_store_index(stores[0], "keys", &lmdb_client, NULL));
    MUST(storesync_store_index(stores[1], "keys", &lmdb_server, NULL));
    replay(&t, lmdb_client, lmdb_server, "lmdb");
    storesync_storage_free(lmdb_client);
    storesync_storage_free(lmdb_server);
    storesync_store_close(stores[0]);
    storesync_store_close(stores[1]);

    waku_session(&t);
    error_paths(argv[3]);

    uint8_t hash[32];
    MUST(storesync_message_hash("/waku/2/rs/0/0", "/test/1/c/proto", (const uint8_t *)"hi", 2, NULL, 0, 1, hash, NULL));
    for (int i = 0; i < 32; i++) printf("%02x", hash[i]);
    printf("\n");

    free_transcript(&t);
    if (failures > 0) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
