/* dist.h — the processes of one run, when mpirun (Open MPI) or srun
 * started several: which one this is, how many there are, and the few
 * collective operations a run shares its work through.
 *
 * Started without a launcher (or built without Open MPI) a run is one
 * process: rank 0 of 1, and every operation here does nothing, so that
 * such a run is exactly what it always was.
 *
 * A run that takes part in a collective job (training, or a result that
 * process 0 writes for all) opens it with cxr_dist_begin and closes it
 * with cxr_dist_end. A process that leaves while a job is open (an error,
 * a stop) ends every process of the run at once, through MPI_Abort, so
 * that none waits for it for ever; a process that dies is noticed by
 * mpirun, which ends the others. */
#pragma once
#include <glib.h>
#include <stddef.h>

/* Joins the run's processes when a launcher started this one (idempotent,
 * any thread). FALSE with error set when it cannot: this build has no
 * Open MPI, or MPI fails to start. */
gboolean cxr_dist_init (GError **error);

/* This process's rank (0 .. size - 1) and the number of processes: 0 and
 * 1 before cxr_dist_init, or alone. */
int cxr_dist_rank (void);
int cxr_dist_size (void);

/* The rank the launcher gave this process (0 when none did), read from
 * its environment: for a program that does not itself join the run (such
 * as one whose plugin does), to know whether it is process 0. */
int cxr_dist_launched_rank (void);

/* Each process's x[0 .. n) summed element-wise into every process's x. */
void cxr_dist_sum_floats (float *x, size_t n);
void cxr_dist_sum_doubles (double *x, size_t n);

/* TRUE on every process when it is TRUE on any. */
gboolean cxr_dist_any (gboolean mine);

/* Every process's bytes mine[0 .. size), one process after the other in
 * rank order, on every process: a new block (g_free) of *total bytes
 * (total may be NULL). Any size; alone, a copy of mine. */
void *cxr_dist_gather (const void *mine, size_t size, size_t *total);

/* The part [*lo, *hi) of n items that process rank of size takes: n split
 * into size contiguous parts whose lengths differ by one at most. */
void cxr_dist_part (size_t n, int rank, int size, size_t *lo, size_t *hi);

/* A collective job opens and closes (they nest): see above. */
void cxr_dist_begin (void);
void cxr_dist_end (void);
