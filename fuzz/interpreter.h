/* interpreter.h — runs an op-sequence program against hakmem with a shadow model of every block.
 *
 * Owns: the main thread's side of a program (slots of live blocks with their sizes, fill seeds and
 * allocating thread), the worker threads that free and allocate on request (synchronously, so a
 * run is deterministic and replayable), and the checks after every op. Promises: a program either
 * runs to its end with every check passed, leaving the allocator's live bytes where they started,
 * or interp_run() reports the first failed check (op number, op text, what was expected and
 * found) and aborts the process, which is how every driver sees a bug. Must never: keep a block
 * across programs, or run allocator operations on more than one thread at a time. */
#ifndef HAK_INTERPRETER_H
#define HAK_INTERPRETER_H

#include <stddef.h>
#include <stdint.h>

/* Once per process, before the allocator is first used: contain-mode options for foreign and
 * invalid frees (the fuzzer commits them on purpose). */
void interp_setup(void);

/* Run one program: the binary form (anything else is ignored), or with accept_text also the text
 * form (starting with '#' or a letter; a text that does not compile aborts with the reason). */
void interp_run(const uint8_t *data, size_t len, int accept_text);

/* For a driver's watchdog (from a signal handler): say which op the program is stuck at. */
void interp_report_stuck(unsigned seconds);

/* How many race ops a program holds (0 for anything that is not a program). */
unsigned interp_count_races(const uint8_t *data, size_t len, int accept_text);

/* Where interp_run records the index of the op it is running, for a parent process that must
 * name it when its child stops answering (NULL: not recorded). */
extern volatile unsigned *interp_progress;

/* The text of op `index` of a program, as a report names it ("" past its last op). */
void interp_op_text(const uint8_t *data, size_t len, int accept_text, unsigned index, char *buf,
                    size_t n);

/* Whether interp_run prints each op as it runs it (replay --trace). */
extern int interp_trace;

/* Mixed into every race's schedule bytes: replay --schedules runs a program under other
 * interleavings than the ones its bytes name (0: exactly as written). */
extern uint32_t interp_schedule_salt;

#endif
