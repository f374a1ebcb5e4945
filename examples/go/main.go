// A Go client of libstoresync.so through cgo: replays a Negentropy reference transcript
// (Tests/Vectors/negentropy/*.json) over two in-memory storages and over two LMDB stores,
// checking every message byte for byte and the ids the client learns, and an error path.
//
//	go run . TRANSCRIPT.json WORKDIR
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../.build/c-api/lib -lstoresync -Wl,-rpath,${SRCDIR}/../../.build/c-api/lib
#include <stdlib.h>
#include "storesync.h"
*/
import "C"

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"
)

type transcript struct {
	ClientFrameSizeLimit uint64          `json:"client_frame_size_limit"`
	ServerFrameSizeLimit uint64          `json:"server_frame_size_limit"`
	ClientItems          [][]interface{} `json:"client_items"`
	ServerItems          [][]interface{} `json:"server_items"`
	Messages             []struct {
		From string `json:"from"`
		Hex  string `json:"hex"`
	} `json:"messages"`
	ClientHave []string `json:"client_have"`
	ClientNeed []string `json:"client_need"`
}

// storeSyncError is a failed call: its status code and the library's message.
type storeSyncError struct {
	status  C.storesync_status
	message string
}

func (e storeSyncError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.message) }

// check turns a status and its message (freed here) into an error.
func check(status C.storesync_status, message *C.char) error {
	if status == C.STORESYNC_OK {
		return nil
	}
	text := C.GoString(message)
	C.storesync_string_free(message)
	return storeSyncError{status, text}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type item struct {
	timestamp uint64
	id        []byte
}

func items(raw [][]interface{}) []item {
	out := make([]item, 0, len(raw))
	for _, pair := range raw {
		id, err := hex.DecodeString(pair[1].(string))
		must(err)
		out = append(out, item{uint64(pair[0].(float64)), id})
	}
	return out
}

// bytesArgument passes Go bytes as C memory the callee borrows; the caller frees it.
func bytesArgument(data []byte) (*C.uint8_t, C.size_t) {
	if len(data) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(C.CBytes(data)), C.size_t(len(data))
}

func memory(keys []item) *C.storesync_storage {
	var storage *C.storesync_storage
	var message *C.char
	must(check(C.storesync_memory_new(&storage, &message), message))
	for _, key := range keys {
		id, length := bytesArgument(key.id)
		must(check(C.storesync_memory_insert(storage, C.uint64_t(key.timestamp), id, length, &message), message))
		C.free(unsafe.Pointer(id))
	}
	must(check(C.storesync_memory_seal(storage, &message), message))
	return storage
}

func lmdb(directory string, keys []item) (*C.storesync_store, *C.storesync_storage) {
	var store *C.storesync_store
	var message *C.char
	path := C.CString(directory)
	defer C.free(unsafe.Pointer(path))
	must(check(C.storesync_store_open(path, &store, &message), message))
	timestamps := make([]C.uint64_t, len(keys)+1)
	ids := make([]byte, 0, 32*len(keys))
	for i, key := range keys {
		timestamps[i] = C.uint64_t(key.timestamp)
		ids = append(ids, key.id...)
	}
	idBytes, _ := bytesArgument(ids)
	defer C.free(unsafe.Pointer(idBytes))
	cTimestamps := (*C.uint64_t)(C.malloc(C.size_t(8 * len(timestamps))))
	defer C.free(unsafe.Pointer(cTimestamps))
	copy(unsafe.Slice(cTimestamps, len(timestamps)), timestamps)
	index := C.CString("keys")
	defer C.free(unsafe.Pointer(index))
	var inserted C.uint64_t
	must(check(C.storesync_store_insert_keys(store, index, cTimestamps, idBytes, C.size_t(len(keys)), &inserted, &message), message))
	if int(inserted) != len(keys) {
		must(fmt.Errorf("inserted %d of %d keys", inserted, len(keys)))
	}
	var storage *C.storesync_storage
	must(check(C.storesync_store_index(store, index, &storage, &message), message))
	return store, storage
}

// ids collects `count` ids of 32 bytes as hex.
func ids(data *C.uint8_t, count C.size_t, into map[string]bool) {
	raw := C.GoBytes(unsafe.Pointer(data), C.int(32*count))
	for i := 0; i+32 <= len(raw); i += 32 {
		into[hex.EncodeToString(raw[i:i+32])] = true
	}
}

func replay(t transcript, client, server *C.storesync_storage, label string) {
	var initiator, responder *C.storesync_engine
	var message *C.char
	must(check(C.storesync_engine_new(C.uint64_t(t.ClientFrameSizeLimit), C.STORESYNC_POLICY_REFERENCE, &initiator, &message), message))
	must(check(C.storesync_engine_new(C.uint64_t(t.ServerFrameSizeLimit), C.STORESYNC_POLICY_REFERENCE, &responder, &message), message))
	defer C.storesync_engine_free(initiator)
	defer C.storesync_engine_free(responder)
	var outgoing C.storesync_buffer
	must(check(C.storesync_engine_initiate(initiator, client, &outgoing, &message), message))
	have, need := map[string]bool{}, map[string]bool{}
	index := 0
	expect := func(from string, data *C.uint8_t, length C.size_t) {
		got := hex.EncodeToString(C.GoBytes(unsafe.Pointer(data), C.int(length)))
		if index >= len(t.Messages) || t.Messages[index].From != from || t.Messages[index].Hex != got {
			must(fmt.Errorf("%s: message %d differs", label, index))
		}
		index++
	}
	for outgoing.data != nil {
		expect("client", outgoing.data, outgoing.length)
		var reply C.storesync_buffer
		must(check(C.storesync_engine_respond(responder, server, outgoing.data, outgoing.length, &reply, &message), message))
		C.storesync_buffer_free(&outgoing)
		expect("server", reply.data, reply.length)
		var step C.storesync_step
		must(check(C.storesync_engine_reconcile(initiator, client, reply.data, reply.length, &step, &message), message))
		C.storesync_buffer_free(&reply)
		ids(step.have, step.have_count, have)
		ids(step.need, step.need_count, need)
		outgoing = step.next_message
		step.next_message = C.storesync_buffer{}
		C.storesync_step_free(&step)
	}
	if index != len(t.Messages) {
		must(fmt.Errorf("%s: %d messages, the transcript has %d", label, index, len(t.Messages)))
	}
	for _, pair := range []struct {
		got  map[string]bool
		want []string
		what string
	}{{have, t.ClientHave, "have"}, {need, t.ClientNeed, "need"}} {
		if len(pair.got) != len(pair.want) {
			must(fmt.Errorf("%s: %s has %d ids, expected %d", label, pair.what, len(pair.got), len(pair.want)))
		}
		for _, id := range pair.want {
			if !pair.got[id] {
				must(fmt.Errorf("%s: %s lacks %s", label, pair.what, id))
			}
		}
	}
}

func main() {
	if C.storesync_abi_version() != C.STORESYNC_ABI_VERSION {
		must(fmt.Errorf("library ABI %d, header %d", C.storesync_abi_version(), C.STORESYNC_ABI_VERSION))
	}
	raw, err := os.ReadFile(os.Args[1])
	must(err)
	var t transcript
	must(json.Unmarshal(raw, &t))
	clientItems, serverItems := items(t.ClientItems), items(t.ServerItems)

	client, server := memory(clientItems), memory(serverItems)
	replay(t, client, server, "memory")
	C.storesync_storage_free(client)
	C.storesync_storage_free(server)

	clientStore, lmdbClient := lmdb(filepath.Join(os.Args[2], "go-client"), clientItems)
	serverStore, lmdbServer := lmdb(filepath.Join(os.Args[2], "go-server"), serverItems)
	replay(t, lmdbClient, lmdbServer, "lmdb")
	C.storesync_storage_free(lmdbClient)
	C.storesync_storage_free(lmdbServer)
	C.storesync_store_close(clientStore)
	C.storesync_store_close(serverStore)

	var storage *C.storesync_storage
	var message *C.char
	must(check(C.storesync_memory_new(&storage, &message), message))
	short, length := bytesArgument([]byte{1, 2, 3})
	err = check(C.storesync_memory_insert(storage, 1, short, length, &message), message)
	C.free(unsafe.Pointer(short))
	if e, ok := err.(storeSyncError); !ok || e.status != C.STORESYNC_ERR_INVALID_ARGUMENT {
		must(fmt.Errorf("a 3-byte id: %v", err))
	}
	C.storesync_storage_free(storage)
	fmt.Println("all checks passed")
}
