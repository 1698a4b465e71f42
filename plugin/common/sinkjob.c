/* sinkjob.c — a sink's long job at EOS, off the streaming thread
 * (see sinkjob.h). */
#include "sinkjob.h"

void
gst_cxr_sink_job_init (GstCxrSinkJob * job, GstBaseSink * sink)
{
  job->sink = sink;
  job->paused = job->stopping = job->done = FALSE;
}

/* sets one of the flags the job's thread reads */
static void
tell (GstCxrSinkJob * job, gboolean * flag, gboolean value)
{
  GST_BASE_SINK_PREROLL_LOCK (job->sink);
  *flag = value;
  GST_BASE_SINK_PREROLL_BROADCAST (job->sink);
  GST_BASE_SINK_PREROLL_UNLOCK (job->sink);
}

void
gst_cxr_sink_job_change_state (GstCxrSinkJob * job, GstStateChange transition)
{
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      tell (job, &job->stopping, FALSE);
      tell (job, &job->paused, TRUE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      tell (job, &job->paused, FALSE);
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      tell (job, &job->paused, TRUE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      tell (job, &job->stopping, TRUE);
      break;
    default:
      break;
  }
}

void
gst_cxr_sink_job_event (GstCxrSinkJob * job, GstEvent * event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START)
    tell (job, &job->stopping, TRUE);
  else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP)
    tell (job, &job->stopping, FALSE);
}

gboolean
gst_cxr_sink_job_keep_going (GstCxrSinkJob * job)
{
  gboolean go;

  GST_BASE_SINK_PREROLL_LOCK (job->sink);
  while (job->paused && !job->stopping)
    GST_BASE_SINK_PREROLL_WAIT (job->sink);
  go = !job->stopping;
  GST_BASE_SINK_PREROLL_UNLOCK (job->sink);
  return go;
}

gboolean
gst_cxr_sink_job_stopping (GstCxrSinkJob * job)
{
  gboolean stopping;

  GST_BASE_SINK_PREROLL_LOCK (job->sink);
  stopping = job->stopping;
  GST_BASE_SINK_PREROLL_UNLOCK (job->sink);
  return stopping;
}

typedef struct {
  GstCxrSinkJob *job;
  GstCxrSinkJobFunc func;
  gpointer data;
} Run;

static gpointer
job_thread (gpointer data)
{
  Run *run = data;
  gboolean ok = run->func (run->data);

  tell (run->job, &run->job->done, TRUE);
  return GINT_TO_POINTER (ok);
}

GstFlowReturn
gst_cxr_sink_job_run (GstCxrSinkJob * job, GstCxrSinkJobFunc func,
    gpointer data)
{
  Run run = { job, func, data };
  GThread *thread;
  GError *error = NULL;
  gboolean ok;

  job->done = FALSE;
  thread = g_thread_try_new ("cxrjob", job_thread, &run, &error);
  if (!thread) {
    GST_ELEMENT_ERROR (job->sink, RESOURCE, FAILED,
        ("Cannot start a thread: %s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  while (!job->done)
    GST_BASE_SINK_PREROLL_WAIT (job->sink);
  ok = GPOINTER_TO_INT (g_thread_join (thread));
  /* the EOS goes on, as it would have, while playing */
  while (ok && job->paused && !job->stopping)
    GST_BASE_SINK_PREROLL_WAIT (job->sink);
  if (job->stopping)
    return GST_FLOW_FLUSHING;
  return ok ? GST_FLOW_OK : GST_FLOW_ERROR;
}
