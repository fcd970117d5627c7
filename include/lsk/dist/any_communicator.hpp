// lsk/dist/any_communicator.hpp: a type-erased reference to any Communicator,
// for code that is not a template over the communicator type (the trainer and
// the recipe runner take one to train data-parallel).
//
//   dist::thread_communicator& comm = ...;
//   dist::any_communicator any(comm);   // refers to comm, which must outlive it
//
// Every call forwards to the wrapped communicator, so the semantic
// requirements of lsk/dist/communicator.hpp hold unchanged (one indirect call
// per collective; the buffers are the caller's).
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <type_traits>

#include "lsk/dist/communicator.hpp"

namespace lsk::dist {

class any_communicator {
 public:
  static constexpr std::string_view name = "any";

  template <Communicator C>
  requires(!std::is_same_v<std::remove_cvref_t<C>, any_communicator>) explicit any_communicator(C& comm)
      : self_(std::make_shared<model<C>>(comm)) {}

  int rank() const { return self_->rank(); }
  int size() const { return self_->size(); }
  void all_reduce_sum(std::span<float> buf) { self_->all_reduce_sum(buf); }
  void all_reduce_sum(std::span<double> buf) { self_->all_reduce_sum(buf); }
  void send_recv(std::span<const float> send, int dest, std::span<float> recv, int src) {
    self_->send_recv(send, dest, recv, src);
  }
  void send_recv(std::span<const double> send, int dest, std::span<double> recv, int src) {
    self_->send_recv(send, dest, recv, src);
  }
  void barrier() { self_->barrier(); }
  // The wrapped communicator's name, and where its buffers live.
  std::string_view engine() const { return self_->engine(); }
  memory_space memory() const { return self_->memory(); }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    virtual void all_reduce_sum(std::span<float>) = 0;
    virtual void all_reduce_sum(std::span<double>) = 0;
    virtual void send_recv(std::span<const float>, int, std::span<float>, int) = 0;
    virtual void send_recv(std::span<const double>, int, std::span<double>, int) = 0;
    virtual void barrier() = 0;
    virtual std::string_view engine() const = 0;
    virtual memory_space memory() const = 0;
  };
  template <class C>
  struct model final : concept_t {
    explicit model(C& c) : comm(&c) {}
    int rank() const override { return comm->rank(); }
    int size() const override { return comm->size(); }
    void all_reduce_sum(std::span<float> b) override { comm->all_reduce_sum(b); }
    void all_reduce_sum(std::span<double> b) override { comm->all_reduce_sum(b); }
    void send_recv(std::span<const float> s, int d, std::span<float> r, int src) override {
      comm->send_recv(s, d, r, src);
    }
    void send_recv(std::span<const double> s, int d, std::span<double> r, int src) override {
      comm->send_recv(s, d, r, src);
    }
    void barrier() override { comm->barrier(); }
    std::string_view engine() const override { return C::name; }
    memory_space memory() const override { return communicator_memory<C>(); }
    C* comm;
  };
  std::shared_ptr<concept_t> self_;
};

static_assert(Communicator<any_communicator>);

}  // namespace lsk::dist
