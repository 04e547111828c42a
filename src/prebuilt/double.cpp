// Every prebuilt instantiation in double, compiled once for eigenflow::prebuilt
// (include/eigenflow/prebuilt.hpp). One unit per scalar: the layers share
// their networks and products, which a single unit instantiates once.
#include <eigenflow/eigenflow.hpp>

#define EIGENFLOW_DEFINE_LAYER(L, S) EIGENFLOW_PREBUILT_LAYER(template, L, S)
EIGENFLOW_PREBUILT_LAYERS(EIGENFLOW_DEFINE_LAYER, double)
EIGENFLOW_PREBUILT_STACK(template, double)
