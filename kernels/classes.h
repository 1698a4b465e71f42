/* classes.h — the most classes a model may have: the layer spec refuses a
 * network with more outputs, and the metrics, training and the metas size
 * their per-class arrays by it. */
#pragma once

#define CXR_MAX_CLASSES 16
