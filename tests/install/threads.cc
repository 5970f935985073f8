// threads.cc — a multi-threaded C++ program for the install check: threads build strings and
// vectors, hand them to the main thread through a locked queue, and the main thread frees them
// (so frees cross threads and outlive their allocating threads).
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

int main()
{
    std::mutex lock;
    std::vector<std::unique_ptr<std::string>> handed;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++)
        threads.emplace_back([t, &lock, &handed] {
            for (int i = 0; i < 20000; i++) {
                auto s =
                    std::make_unique<std::string>(static_cast<size_t>(16 + (i * 7 + t) % 300), 'x');
                std::vector<int> scratch(static_cast<size_t>(i % 64));
                if (i % 3 == 0) {
                    std::lock_guard<std::mutex> g(lock);
                    handed.push_back(std::move(s));
                }
            }
        });
    for (auto &th : threads)
        th.join();
    size_t bytes = 0;
    for (auto &s : handed)
        bytes += s->size();
    handed.clear();
    std::printf("threads.cc: %zu bytes handed over\n", bytes);
    return 0;
}
