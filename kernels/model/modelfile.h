/* modelfile.h — safetensors files: an 8-byte little-endian header length, a
 * JSON header, then raw little-endian tensors. Python opens them with
 * nothing but json and numpy.
 *
 * Only F32 tensors are written and read. The reader trusts nothing: header
 * length bounds, JSON shape, dtypes, shapes, offsets inside the file, no
 * overlap or gap, finite values. The writer writes a temporary file beside
 * the destination, fsyncs it and renames it over, so the destination is
 * always either the old file or the complete new one. */
#pragma once
#include <glib.h>
#include <stdint.h>
#include <sys/stat.h>

#define CXR_MODEL_MAX_DIMS 8
#define CXR_MODEL_MAX_TENSORS 4096
#define CXR_MODEL_MAX_HEADER (16 * 1024 * 1024)
#define CXR_MODEL_MAX_NAME 256

typedef struct {
  char *name;
  int ndim;
  int64_t shape[CXR_MODEL_MAX_DIMS];
  int64_t numel;
  float *data;          /* numel floats, owned */
} CxrTensor;

typedef struct {
  GPtrArray *tensors;   /* of CxrTensor*, in file order; owned */
  GHashTable *metadata; /* char* -> char*, the "__metadata__" map; owned */
  struct stat source;   /* of the file read, from the descriptor it was read
                         * through; zeros when made in memory */
} CxrModelFile;

CxrModelFile *cxr_model_file_new (void);
void cxr_model_file_free (CxrModelFile *m);

/* Adds a tensor; copies name, shape and data (data may be NULL: zeros).
 * Returns NULL, adding nothing, if the name is empty, longer than
 * CXR_MODEL_MAX_NAME, "__metadata__" or already present, if a dimension is
 * negative or the element count too large, or if the model already holds
 * CXR_MODEL_MAX_TENSORS tensors. */
CxrTensor *cxr_model_file_add (CxrModelFile *m, const char *name, int ndim,
    const int64_t *shape, const float *data);
CxrTensor *cxr_model_file_find (const CxrModelFile *m, const char *name);
void cxr_model_file_set_meta (CxrModelFile *m, const char *key, const char *value);
const char *cxr_model_file_get_meta (const CxrModelFile *m, const char *key);

/* NULL and a CXR_ERROR (CXR_ERROR_IO or CXR_ERROR_CORRUPT, message naming the
 * file and what is wrong) on failure; CXR_ERROR_UNSUPPORTED for a dtype
 * other than F32, CXR_ERROR_TOO_LARGE for a file over 2 GiB. Tensors come
 * back in data order (ascending data_offsets): the order they were added,
 * for files from cxr_model_file_write. Repeated JSON keys are refused. */
CxrModelFile *cxr_model_file_read (const char *path, GError **error);
/* The same checks on bytes already in memory; name is used in messages. */
CxrModelFile *cxr_model_file_parse (const uint8_t *bytes, size_t size,
    const char *name, GError **error);
/* Refuses (CXR_ERROR_INVALID_ARGUMENT, nothing written) a model the reader
 * would refuse, e.g. one holding NaN or Inf; CXR_ERROR_IO if the disk fails. */
gboolean cxr_model_file_write (const CxrModelFile *m, const char *path, GError **error);
