// C++ under LD_PRELOAD: std::map / std::string / vector churn in four threads, with sized and
// aligned new/delete; prints a checksum that must match the run without hakmem.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

struct alignas(64) Line {
    std::uint64_t v[8];
};

static std::uint64_t work(int id)
{
    std::map<std::string, std::vector<int>> m;
    std::uint64_t sum = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 5000; i++) {
            std::string key = "key-" + std::to_string(id) + "-" + std::to_string((i * 7919) % 4000);
            m[key].push_back(i + round);
        }
        for (auto &kv : m)
            sum += kv.first.size() * 31 + kv.second.size();
        auto lines = std::make_unique<Line[]>(100);
        for (int i = 0; i < 100; i++) {
            if (reinterpret_cast<std::uintptr_t>(&lines[i]) % 64 != 0)
                return 0;
            lines[i].v[0] = static_cast<std::uint64_t>(i);
        }
        auto *big = new (std::align_val_t(4096)) char[10000];
        if (reinterpret_cast<std::uintptr_t>(big) % 4096 != 0)
            return 0;
        ::operator delete[](big, std::align_val_t(4096));
        if (round % 5 == 4)
            m.clear();
    }
    return sum;
}

int main()
{
    std::vector<std::thread> threads;
    std::uint64_t sums[4] = {};
    for (int i = 0; i < 4; i++)
        threads.emplace_back([i, &sums] { sums[i] = work(i); });
    for (auto &t : threads)
        t.join();
    std::printf("%llu %llu %llu %llu\n", (unsigned long long)sums[0], (unsigned long long)sums[1],
                (unsigned long long)sums[2], (unsigned long long)sums[3]);
    return 0;
}
