// Every form in which C++ code allocates and frees, as the compiler and the standard library issue
// them: new/delete of one object (sized delete), of arrays with and without a cookie, nothrow,
// over-aligned objects and arrays (aligned and sized aligned delete), the explicit sized and
// aligned operator calls, and the library's containers, strings, smart pointers and functions
// (std::allocator's deallocate passes the size, and the alignment where it is extended). A correct
// program: under the hardened build nothing may be reported. Prints a checksum.
#include <cstdio>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

struct Plain {
    long a[5];
    ~Plain() { a[0] = 0; } // non-trivial: arrays of it carry a cookie, and delete[] its size
};
struct alignas(64) Line {
    char b[100];
};
struct alignas(4096) Page {
    char b[5000];
    ~Page() { b[0] = 0; }
};
struct alignas(32) Small {
    int x;
};

int main()
{
    unsigned long sum = 0;
    for (int round = 0; round < 300; round++) {
        Plain *p = new Plain;
        delete p;
        Plain *a = new Plain[round % 7 + 1];
        delete[] a;
        Plain *n = new (std::nothrow) Plain;
        delete n;
        Plain *an = new (std::nothrow) Plain[3];
        delete[] an;
        Line *l = new Line;
        delete l;
        Line *la = new Line[round % 5 + 1];
        delete[] la;
        Page *pg = new Page;
        delete pg;
        Page *pga = new Page[2];
        delete[] pga;
        Small *s = new Small;
        delete s;
        Line *ln = new (std::nothrow) Line;
        delete ln;

        std::vector<Line> v(round % 50 + 1);
        v.push_back(Line());
        std::vector<int> vi;
        for (int i = 0; i < round * 10; i++)
            vi.push_back(i);
        std::string str(round * 13 + 1, 'x');
        str += "tail";
        std::map<int, std::string> m;
        std::unordered_map<int, std::vector<long>> um;
        for (int i = 0; i < 20; i++) {
            m[i] = std::to_string(i * round);
            um[i].resize(i + round % 9);
        }
        std::list<Page> pages(round % 3);
        std::deque<Small> smalls(round % 40);
        auto shared = std::make_shared<Line>();
        auto shared_page = std::make_shared<Page>();
        auto unique_array = std::make_unique<Plain[]>(4);
        std::unique_ptr<Page> unique_page(new Page);
        std::function<int()> f = [big = std::vector<char>(300 + round)]() {
            return (int)big.size();
        };
        sum += v.size() + vi.size() + str.size() + m.size() + um.size() + pages.size() +
               smalls.size() + (unsigned long)f();

        void *raw = ::operator new(123);
        ::operator delete(raw, 123);
        void *raw_array = ::operator new[](77);
        ::operator delete[](raw_array, 77);
        void *aligned = ::operator new(300, std::align_val_t(128));
        ::operator delete(aligned, 300, std::align_val_t(128));
        void *aligned_array = ::operator new[](70, std::align_val_t(256));
        ::operator delete[](aligned_array, 70, std::align_val_t(256));
        void *aligned_nothrow = ::operator new(40, std::align_val_t(64), std::nothrow);
        ::operator delete(aligned_nothrow, std::align_val_t(64), std::nothrow);
        int *ints = new int[round + 1]; // no cookie: delete[] without a size
        delete[] ints;
        void *unsized = ::operator new(55);
        ::operator delete(unsized);
        void *unsized_aligned = ::operator new(90, std::align_val_t(64));
        ::operator delete(unsized_aligned, std::align_val_t(64));
        void *unsized_aligned_array = ::operator new[](90, std::align_val_t(512));
        ::operator delete[](unsized_aligned_array, std::align_val_t(512));
        void *nothrow_array = ::operator new[](33, std::nothrow);
        ::operator delete[](nothrow_array, std::nothrow);
        void *nothrow_one = ::operator new(33, std::nothrow);
        ::operator delete(nothrow_one, std::nothrow);
        void *aligned_nothrow_array = ::operator new[](48, std::align_val_t(128), std::nothrow);
        ::operator delete[](aligned_nothrow_array, std::align_val_t(128), std::nothrow);
        void *big = ::operator new(3 << 20);
        ::operator delete(big, 3 << 20);
        void *big_aligned = ::operator new(200 << 10, std::align_val_t(8192));
        ::operator delete(big_aligned, 200 << 10, std::align_val_t(8192));
    }
    std::printf("%lu\n", sum);
    return 0;
}
