/* dist.c — the processes of one run, on Open MPI (see dist.h). */
#include "dist.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CXR_HAVE_MPI
#include <dlfcn.h>
#include <mpi.h>
#endif

/* a broadcast moves at most this many bytes at a time: MPI counts are int */
#define CHUNK ((size_t) 1 << 30)

static int rank = 0, size = 1;
static gint open_jobs = 0;

/* A launcher says how many processes it started; one, or none: alone. */
static int
launched_processes (void)
{
  const char *n = g_getenv ("OMPI_COMM_WORLD_SIZE");

  if (!n)
    n = g_getenv ("PMIX_RANK") ? g_getenv ("SLURM_NTASKS") : NULL;
  return n ? atoi (n) : 1;
}

int
cxr_dist_launched_rank (void)
{
  const char *r = g_getenv ("OMPI_COMM_WORLD_RANK");

  if (!r)
    r = g_getenv ("PMIX_RANK");
  return r ? atoi (r) : 0;
}

#ifdef CXR_HAVE_MPI

/* MPI is finalised when the process ends well, and the whole run aborted
 * when it ends with a job open (dist.h). */
static void
leave (void)
{
  if (g_atomic_int_get (&open_jobs) > 0) {
    fprintf (stderr, "cxr: process %d of %d ended before its part of the "
        "run was done; ending every process of the run\n", rank, size);
    MPI_Abort (MPI_COMM_WORLD, 1);
  }
  MPI_Finalize ();
}

static gpointer
start_mpi (gpointer data)
{
  GError **error = data;
  int provided, ok;

  /* the plugin is opened with RTLD_LOCAL; Open MPI's own components look
   * for libmpi's symbols globally */
  dlopen ("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  /* serialised: training calls MPI from its own thread, never two at once */
  ok = MPI_Init_thread (NULL, NULL, MPI_THREAD_SERIALIZED, &provided)
      == MPI_SUCCESS;
  if (!ok) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "MPI did not start; see Open MPI's message above");
    return GINT_TO_POINTER (FALSE);
  }
  MPI_Comm_rank (MPI_COMM_WORLD, &rank);
  MPI_Comm_size (MPI_COMM_WORLD, &size);
  atexit (leave);
  return GINT_TO_POINTER (TRUE);
}

gboolean
cxr_dist_init (GError **error)
{
  static GOnce once = G_ONCE_INIT;
  GError *start_error = NULL;

  if (launched_processes () <= 1)
    return TRUE;
  /* the first caller's error; later callers get the outcome alone */
  if (!GPOINTER_TO_INT (g_once (&once, start_mpi, &start_error))) {
    if (start_error)
      g_propagate_error (error, start_error);
    else
      g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
          "MPI did not start");
    return FALSE;
  }
  return TRUE;
}

void
cxr_dist_sum_floats (float *x, size_t n)
{
  for (size_t done = 0; size > 1 && done < n; done += CHUNK / 4)
    MPI_Allreduce (MPI_IN_PLACE, x + done, (int) MIN (n - done, CHUNK / 4),
        MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

void
cxr_dist_sum_doubles (double *x, size_t n)
{
  for (size_t done = 0; size > 1 && done < n; done += CHUNK / 8)
    MPI_Allreduce (MPI_IN_PLACE, x + done, (int) MIN (n - done, CHUNK / 8),
        MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

gboolean
cxr_dist_any (gboolean mine)
{
  int any = mine != FALSE;

  if (size > 1)
    MPI_Allreduce (MPI_IN_PLACE, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
  return any != 0;
}

void *
cxr_dist_gather (const void *mine, size_t bytes, size_t *total_bytes)
{
  guint64 *each = g_new (guint64, size), mine64 = bytes, total = 0;
  guint8 *all;

  if (size > 1)
    MPI_Allgather (&mine64, 1, MPI_UINT64_T, each, 1, MPI_UINT64_T,
        MPI_COMM_WORLD);
  else
    each[0] = mine64;
  for (int r = 0; r < size; r++)
    total += each[r];
  all = g_malloc (MAX (total, 1));
  for (int r = 0, at = 0; r < size; at += each[r], r++) {
    if (r == rank && bytes)
      memcpy (all + at, mine, bytes);
    for (size_t done = 0; size > 1 && done < each[r]; done += CHUNK)
      MPI_Bcast (all + at + done, (int) MIN (each[r] - done, CHUNK), MPI_BYTE,
          r, MPI_COMM_WORLD);
  }
  g_free (each);
  if (total_bytes)
    *total_bytes = total;
  return all;
}

#else /* one process, always */

gboolean
cxr_dist_init (GError **error)
{
  if (launched_processes () <= 1)
    return TRUE;
  g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
      "started as one of %d processes, but this build of gst-cxr has no "
      "Open MPI: install libopenmpi-dev and build again (meson setup "
      "-Dmpi=enabled)", launched_processes ());
  return FALSE;
}

void
cxr_dist_sum_floats (float *x, size_t n)
{
  (void) x;
  (void) n;
}

void
cxr_dist_sum_doubles (double *x, size_t n)
{
  (void) x;
  (void) n;
}

gboolean
cxr_dist_any (gboolean mine)
{
  return mine;
}

void *
cxr_dist_gather (const void *mine, size_t bytes, size_t *total)
{
  if (total)
    *total = bytes;
  return g_memdup2 (mine, MAX (bytes, 1));
}

#endif

int
cxr_dist_rank (void)
{
  return rank;
}

int
cxr_dist_size (void)
{
  return size;
}

void
cxr_dist_part (size_t n, int r, int of, size_t *lo, size_t *hi)
{
  *lo = n * r / of;
  *hi = n * (r + 1) / of;
}

void
cxr_dist_begin (void)
{
  g_atomic_int_inc (&open_jobs);
}

void
cxr_dist_end (void)
{
  g_atomic_int_dec_and_test (&open_jobs);
}
