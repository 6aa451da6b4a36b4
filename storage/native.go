package storage

/*
#cgo LDFLAGS: -lrocksdb
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <rocksdb/c.h>

// dedup_multi_get looks up n keys of key_len bytes each, stored back to back
// in keys in ascending byte order, in each of the ncf column families, with
// one batched MultiGet per column family. The result for column family c
// and key i goes to slot c*n+i. lens[slot] receives the value's length, or
// -1 when the key is absent. The first value_cap bytes of the value are
// copied to values + slot*value_cap.
//
// It returns NULL, or the first error RocksDB reported, allocated with malloc.
static char* dedup_multi_get(rocksdb_t* db, const rocksdb_readoptions_t* ro,
		rocksdb_column_family_handle_t** cfs, size_t ncf,
		const char* keys, size_t key_len, size_t n,
		char* values, size_t value_cap, int64_t* lens) {
	const char** key_ptrs = malloc(n * sizeof *key_ptrs);
	size_t* key_sizes = malloc(n * sizeof *key_sizes);
	rocksdb_pinnableslice_t** pins = malloc(n * sizeof *pins);
	char** errs = malloc(n * sizeof *errs);
	char* first_err = NULL;
	if (key_ptrs == NULL || key_sizes == NULL || pins == NULL || errs == NULL) {
		first_err = strdup("cannot allocate MultiGet arguments: out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		key_ptrs[i] = keys + i * key_len;
		key_sizes[i] = key_len;
	}
	for (size_t c = 0; c < ncf; c++) {
		rocksdb_batched_multi_get_cf(db, ro, cfs[c], n, key_ptrs, key_sizes, pins, errs, 1);
		for (size_t i = 0; i < n; i++) {
			size_t slot = c * n + i;
			lens[slot] = -1;
			if (errs[i] != NULL) {
				if (first_err == NULL) {
					first_err = errs[i];
				} else {
					free(errs[i]);
				}
			}
			if (pins[i] != NULL) {
				size_t len = 0;
				const char* v = rocksdb_pinnableslice_value(pins[i], &len);
				if (v != NULL) {
					lens[slot] = (int64_t)len;
					memcpy(values + slot * value_cap, v, len < value_cap ? len : value_cap);
				}
				rocksdb_pinnableslice_destroy(pins[i]);
			}
		}
	}
done:
	free(key_ptrs);
	free(key_sizes);
	free(pins);
	free(errs);
	return first_err;
}

// dedup_write clears wb, puts n keys of key_len bytes with values of
// value_len bytes, both stored back to back, into column family cf, and
// writes the batch. It returns NULL, or RocksDB's error allocated with malloc.
static char* dedup_write(rocksdb_t* db, const rocksdb_writeoptions_t* wo,
		rocksdb_writebatch_t* wb, rocksdb_column_family_handle_t* cf,
		const char* keys, size_t key_len, const char* values, size_t value_len, size_t n) {
	rocksdb_writebatch_clear(wb);
	for (size_t i = 0; i < n; i++) {
		rocksdb_writebatch_put_cf(wb, cf, keys + i * key_len, key_len, values + i * value_len, value_len);
	}
	char* err = NULL;
	rocksdb_write(db, wo, wb, &err);
	rocksdb_writebatch_clear(wb);
	return err;
}
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// The batch paths of a store call RocksDB's C API directly, once per batch:
// grocksdb v1.7.15 does not wrap rocksdb_batched_multi_get_cf, copies every
// key into its own malloc'd buffer for MultiGet, and makes one cgo call per
// key for WriteBatch puts. Everything else goes through grocksdb.

// handle returns the C object that a grocksdb wrapper owns. grocksdb v1.7.15
// keeps it as the first field of DB, ColumnFamilyHandle, ReadOptions,
// WriteOptions and WriteBatch, and exports no accessor for it. go.mod pins
// that version, and TestNativeMatchesGrocksdb checks both paths against each
// other, so a grocksdb upgrade that moves the field fails that test.
func handle[T grocksdb.DB | grocksdb.ColumnFamilyHandle | grocksdb.ReadOptions | grocksdb.WriteOptions | grocksdb.WriteBatch](w *T) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(w))
}

// nativeBatch holds the reused buffers of the batch calls. Keys and values
// are laid out back to back so that the C side reads them in place.
type nativeBatch struct {
	cfs    []*C.rocksdb_column_family_handle_t
	keys   []byte
	values []byte
	lens   []int64
	count  int // keys looked up by the last multiGet
}

// multiGet looks up the count keys in n.keys (keyLen bytes each, sorted) in
// each of the buckets. Afterwards value(c, i) returns the stored value of key
// i in buckets[c], if any.
func (n *nativeBatch) multiGet(db *grocksdb.DB, ro *grocksdb.ReadOptions, buckets []*bucket, count int) error {
	n.cfs = n.cfs[:0]
	for _, b := range buckets {
		n.cfs = append(n.cfs, (*C.rocksdb_column_family_handle_t)(handle(b.handle)))
	}
	n.count = count
	slots := len(buckets) * count
	n.values = resize(n.values, slots*recordSize)
	n.lens = resize(n.lens, slots)
	cerr := C.dedup_multi_get(
		(*C.rocksdb_t)(handle(db)), (*C.rocksdb_readoptions_t)(handle(ro)),
		unsafe.SliceData(n.cfs), C.size_t(len(n.cfs)),
		(*C.char)(unsafe.Pointer(unsafe.SliceData(n.keys))), C.size_t(keyLen), C.size_t(count),
		(*C.char)(unsafe.Pointer(unsafe.SliceData(n.values))), C.size_t(recordSize),
		(*C.int64_t)(unsafe.Pointer(unsafe.SliceData(n.lens))))
	return takeError(cerr)
}

// value returns the value found for key i in column family c by the last
// multiGet: its length (-1 when absent) and up to recordSize of its bytes.
func (n *nativeBatch) value(c, i int) (length int64, b []byte) {
	slot := c*n.count + i
	length = n.lens[slot]
	if length < 0 {
		return length, nil
	}
	start := slot * recordSize
	return length, n.values[start : start+int(min(length, recordSize))]
}

// write stores count keys from n.keys with the values in n.values
// (recordSize bytes each) in column family cf, as one WriteBatch.
func (n *nativeBatch) write(db *grocksdb.DB, wo *grocksdb.WriteOptions, wb *grocksdb.WriteBatch, cf *grocksdb.ColumnFamilyHandle, count int) error {
	cerr := C.dedup_write(
		(*C.rocksdb_t)(handle(db)), (*C.rocksdb_writeoptions_t)(handle(wo)),
		(*C.rocksdb_writebatch_t)(handle(wb)), (*C.rocksdb_column_family_handle_t)(handle(cf)),
		(*C.char)(unsafe.Pointer(unsafe.SliceData(n.keys))), C.size_t(keyLen),
		(*C.char)(unsafe.Pointer(unsafe.SliceData(n.values))), C.size_t(recordSize), C.size_t(count))
	return takeError(cerr)
}

// takeError converts and frees an error string returned by the C side.
func takeError(cerr *C.char) error {
	if cerr == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(cerr))
	return errors.New(C.GoString(cerr))
}
