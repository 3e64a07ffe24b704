/* The model registry (models.def). Apart from model.c so a model's unit test links
 * without every other model. */
#include <string.h>

#include "models/model.h"

#define X(ident) extern const sr_model_ops sr_model_##ident;
#include "models/models.def"
#undef X

const sr_model_ops *const sr_models[] = {
#define X(ident) &sr_model_##ident,
#include "models/models.def"
#undef X
};
const size_t sr_n_models = sizeof sr_models / sizeof sr_models[0];

const sr_model_ops *sr_model_find(const char *name) {
    for (size_t i = 0; i < sr_n_models; i++)
        if (!strcmp(sr_models[i]->name, name) || !strcmp(sr_models[i]->surprise, name))
            return sr_models[i];
    return NULL;
}
