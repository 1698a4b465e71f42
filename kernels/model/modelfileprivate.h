/* modelfileprivate.h — what the model file's reader and writer share:
 * the format's byte order and limits, the in-memory tensors' rules, and
 * the error messages that name the file. Private to kernels/model. */
#pragma once
#include "modelfile.h"
#include "error.h"

#include <string.h>

/* We refuse to read more than this: larger is surely not one of our models,
 * and the whole file is held in memory. */
#define CXR_MODEL_MAX_FILE ((gint64) 2 * 1024 * 1024 * 1024)
/* JSON integers longer than this many digits may not fit in an int64;
 * json-glib would silently saturate them, so they are refused up front. */
#define MAX_INT_DIGITS 18
#define MAX_NESTING 8

/* ---- byte order: the format is little-endian whatever the machine ---- */

static inline guint64
get_u64_le (const uint8_t * p)
{
  guint64 v;

  memcpy (&v, p, sizeof (v));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  v = GUINT64_SWAP_LE_BE (v);
#endif
  return v;
}

static inline void
put_u64_le (uint8_t * p, guint64 v)
{
#if G_BYTE_ORDER == G_BIG_ENDIAN
  v = GUINT64_SWAP_LE_BE (v);
#endif
  memcpy (p, &v, sizeof (v));
}

static inline float
get_f32_le (const uint8_t * p)
{
  guint32 bits;
  float f;

  memcpy (&bits, p, sizeof (bits));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  bits = GUINT32_SWAP_LE_BE (bits);
#endif
  memcpy (&f, &bits, sizeof (f));
  return f;
}

static inline void
put_f32_le (uint8_t * p, float f)
{
  guint32 bits;

  memcpy (&bits, &f, sizeof (bits));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  bits = GUINT32_SWAP_LE_BE (bits);
#endif
  memcpy (p, &bits, sizeof (bits));
}

/* Element count of a shape, or -1 if a dimension is negative or the count
 * times 4 bytes would overflow an int64. */
int64_t cxr_shape_numel (int ndim, const int64_t * shape);

/* Whether name may name a tensor: UTF-8, 1 to CXR_MODEL_MAX_NAME bytes,
 * not "__metadata__". */
gboolean cxr_tensor_name_is_valid (const char *name);

/* A tensor of that name and shape with zeroed data; NULL if the shape is
 * invalid or the memory is not available. Free with cxr_tensor_free. */
CxrTensor *cxr_tensor_new (const char *name, int ndim, const int64_t * shape);
void cxr_tensor_free (gpointer tensor);

/* Sets "<file>: <message>" in the CXR_ERROR domain. */
void cxr_model_file_error (GError ** error, CxrErrorCode code,
    const char *file, const char *format, ...) G_GNUC_PRINTF (4, 5);

/* Sets "<path>: <what>: <strerror (errsv)>" as a CXR_ERROR_IO. */
void cxr_model_file_io_error (GError ** error, const char *what,
    const char *path, int errsv);

/* "[3,3]", for messages. Free with g_free. */
gchar *cxr_shape_to_string (int ndim, const int64_t * shape);
