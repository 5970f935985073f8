/* sched_hook.c — the hook behind SCHED_POINT (sched build only). */
#include "sched_hook.h"

#ifdef HAK_SCHED
void (*hk_sched_hook)(unsigned point, const void *object);

HAK_EXPORT void hak_sched_set_hook(void (*hook)(unsigned point, const void *object))
{
    __atomic_store_n(&hk_sched_hook, hook, __ATOMIC_RELEASE);
}
#else
typedef int sched_hook_unused; /* ISO C wants a declaration in every translation unit */
#endif
