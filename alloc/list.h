/* list.h — the doubly-linked intrusive list every allocator list uses.
 *
 * Owns: putting a node at a list's head or after another node, and taking it out, for any struct
 * with a pair of next/prev pointers to its own type. The pair is named at each use, so one struct
 * can be on several lists (a slab segment is on its pool's list and on the list of all segments).
 * A list is a pointer to its first node; the first node's prev is NULL. Promises: O(1), no
 * allocation, and a node taken out has both links NULL. Must never: lock, count or check
 * anything (each list's owner holds its lock, keeps its count, and its heap check walks it). */
#ifndef HAK_LIST_H
#define HAK_LIST_H

#include <stddef.h>

/* Node n first on the list *head. */
#define LIST_PUSH(head, n, next, prev)                                                             \
    do {                                                                                           \
        __typeof__(n) list_n_ = (n);                                                               \
        list_n_->prev = NULL;                                                                      \
        list_n_->next = *(head);                                                                   \
        if (list_n_->next != NULL)                                                                 \
            list_n_->next->prev = list_n_;                                                         \
        *(head) = list_n_;                                                                         \
    } while (0)

/* Node n right after node `after` on the list *head (first when `after` is NULL). */
#define LIST_INSERT_AFTER(head, after, n, next, prev)                                              \
    do {                                                                                           \
        __typeof__(n) list_after_ = (after), list_new_ = (n);                                      \
        if (list_after_ == NULL) {                                                                 \
            LIST_PUSH(head, list_new_, next, prev);                                                \
            break;                                                                                 \
        }                                                                                          \
        list_new_->prev = list_after_;                                                             \
        list_new_->next = list_after_->next;                                                       \
        if (list_new_->next != NULL)                                                               \
            list_new_->next->prev = list_new_;                                                     \
        list_after_->next = list_new_;                                                             \
    } while (0)

/* Node n off the list *head it is on. */
#define LIST_REMOVE(head, n, next, prev)                                                           \
    do {                                                                                           \
        __typeof__(n) list_n_ = (n);                                                               \
        if (list_n_->prev != NULL)                                                                 \
            list_n_->prev->next = list_n_->next;                                                   \
        else                                                                                       \
            *(head) = list_n_->next;                                                               \
        if (list_n_->next != NULL)                                                                 \
            list_n_->next->prev = list_n_->prev;                                                   \
        list_n_->next = list_n_->prev = NULL;                                                      \
    } while (0)

#endif
