/* sinkjob.h — a long job a sink does at EOS (cxrtrain's training),
 * in a thread of its own while the EOS is held back, so that the pipeline
 * can still change state: PLAYING to PAUSED pauses the job between two of
 * its steps, PAUSED to PLAYING resumes it, PAUSED to READY and a flush stop
 * it. The EOS goes on when the job is done and the pipeline plays.
 *
 * The flags live under the sink's preroll lock and are signalled on its
 * condition, the one the streaming thread waits on at EOS: waiting there
 * lets the lock go, so that state changes and flushes get through. */
#pragma once
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

typedef struct {
  GstBaseSink *sink;
  gboolean paused;
  gboolean stopping;
  gboolean done;
} GstCxrSinkJob;

/* The job's work: in the job's thread; FALSE when it failed (and said
 * so). */
typedef gboolean (*GstCxrSinkJobFunc) (gpointer data);

void gst_cxr_sink_job_init (GstCxrSinkJob * job, GstBaseSink * sink);

/* From the sink's change_state, before the parent class's (which waits for
 * the streaming thread when it deactivates the pad). */
void gst_cxr_sink_job_change_state (GstCxrSinkJob * job,
    GstStateChange transition);

/* From the sink's event vfunc: FLUSH_START stops the job, FLUSH_STOP lets
 * the next one run. */
void gst_cxr_sink_job_event (GstCxrSinkJob * job, GstEvent * event);

/* From the job, between two steps: waits while the pipeline is paused;
 * FALSE once the job is to stop. */
gboolean gst_cxr_sink_job_keep_going (GstCxrSinkJob * job);

/* Whether the job is to stop, without waiting. */
gboolean gst_cxr_sink_job_stopping (GstCxrSinkJob * job);

/* From the sink's wait_event at EOS, with the preroll lock held: runs
 * func (data) in a thread of its own and waits for it, then for the
 * pipeline to play. GST_FLOW_OK when func succeeded, GST_FLOW_FLUSHING
 * when the pipeline stopped or flushed, GST_FLOW_ERROR otherwise. */
GstFlowReturn gst_cxr_sink_job_run (GstCxrSinkJob * job,
    GstCxrSinkJobFunc func, gpointer data);

G_END_DECLS
