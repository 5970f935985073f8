/* race_sched.h — the deterministic scheduler of race ops.
 *
 * Owns: which participant thread runs during a race. In the sched build it installs hakmem's
 * scheduling hook (hakmem_sched.h): exactly one participant runs at a time, and at every
 * scheduling point the schedule — a PCT-style priority order with change points, or (one
 * schedule in three) a random walk that switches threads every few points, all drawn from the
 * race's schedule bytes — decides who runs next, so an interleaving of the allocator's atomic
 * steps is a function of the input and replays exactly. A thread that waits (a spin or a held
 * lock) is lowered below every other, so the thread it waits for runs. In other builds the
 * participants run free, with real preemption. Promises: a race whose threads all wait and none
 * can move (a deadlock or livelock), or that runs past its step budget, is reported with each
 * participant's last scheduling point; nothing waits forever. Must never: let two participants
 * run allocator code at once in the sched build. */
#ifndef HAK_FUZZ_RACE_SCHED_H
#define HAK_FUZZ_RACE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#define SCHED_MAX_THREADS 5 /* participant ids 0 (the main thread) .. 4 */

/* Whether races are scheduled deterministically (the sched build). */
extern const int sched_deterministic;

/* Once, after hakmem is initialized (the exit-order of thread keys depends on it). */
void sched_setup(void);

/* Prepare a race among the participants whose bit is set in `mask`, with schedule bytes `seed`
 * (mixed with `salt`, so one program can be explored under other schedules). */
void sched_begin(unsigned mask, const uint8_t seed[4], uint32_t salt);
/* A participant's thread, before its task: waits until the schedule lets it run. */
void sched_enter(unsigned id);
/* A participant's thread, after its task (a thread that exits leaves by itself after hakmem's
 * thread teardown: call sched_leave_at_exit instead). */
void sched_leave(void);
void sched_leave_at_exit(unsigned id);
/* The main thread: wait until every participant has left. 0 when they did; otherwise a
 * description of who is stuck where (in `why`), and the race is abandoned. */
int sched_wait(double timeout_s, char *why, size_t len);
/* Print every scheduling point of every race (replay --trace-sched). */
extern int sched_trace;

/* Scheduling points the last race went through. */
uint64_t sched_steps(void);

/* Interleaving coverage of the protocol (sched build): pairs[p][q] counts the switches where a
 * participant stopped before point p on an object while another, stopped before point q on the
 * same object, went first, so that q happened with p pending. NULL (the default): not counted.
 * The replay points it at memory its forked children share. */
#define SCHED_POINT_KINDS 12
extern uint64_t (*sched_pairs)[SCHED_POINT_KINDS];
extern const char *const sched_point_names[SCHED_POINT_KINDS];

#endif
