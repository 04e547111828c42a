// Conditional models on the command line: which CSV columns hold the context c
// of p(x | c), and contexts given as values.
//   train/logprob  the last K columns (--context-columns K), or the columns named
//                  by --context NAME,... in the header; the others are x.
//   sample/plot    --context v1,...,vK (one context for every point) or, for
//                  sample, --context-file C.csv (one context per row).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"

namespace eigenflow::cli {

/// A table's columns in two groups: x first, then the context (in the order named).
struct ColumnLayout {
  std::vector<Index> points, context;
};

/// The layout of a table with `columns` columns (header may be empty): K last columns, or named ones.
inline ColumnLayout column_layout(Index columns, const std::vector<std::string>& header, long long context_columns,
                                  const std::string& context_names, const std::string& where) {
  ColumnLayout layout;
  std::vector<bool> is_context(static_cast<std::size_t>(columns), false);
  if (!context_names.empty()) {
    require(!header.empty(), "--context " + context_names + ": " + where + " has no header line to find the names in");
    for (const std::string& name : detail::split_fields(context_names)) {
      const auto it = std::find(header.begin(), header.end(), name);
      require(it != header.end(), "--context: " + where + " has no column named '" + name + "'");
      const auto j = static_cast<Index>(it - header.begin());
      require(!is_context[static_cast<std::size_t>(j)], "--context: column '" + name + "' is named twice");
      is_context[static_cast<std::size_t>(j)] = true;
      layout.context.push_back(j);
    }
  } else {
    require(context_columns >= 0 && context_columns < columns,
            where + " has " + std::to_string(columns) + " columns; " + std::to_string(context_columns) +
                " context columns must leave at least one for x");
    for (Index j = columns - static_cast<Index>(context_columns); j < columns; ++j) {
      is_context[static_cast<std::size_t>(j)] = true;
      layout.context.push_back(j);
    }
  }
  for (Index j = 0; j < columns; ++j)
    if (!is_context[static_cast<std::size_t>(j)]) layout.points.push_back(j);
  require(!layout.points.empty(), "--context: every column of " + where + " is a context column; nothing is left for x");
  return layout;
}

/// The chosen columns of a matrix, in that order.
inline Matrix<double> select_columns(const Matrix<double>& values, const std::vector<Index>& columns) {
  Matrix<double> out(values.rows(), static_cast<Index>(columns.size()));
  for (std::size_t k = 0; k < columns.size(); ++k) out.col(static_cast<Index>(k)) = values.col(columns[k]);
  return out;
}

/// The values reordered to [x | c] by a layout.
inline Matrix<double> points_then_context(const Matrix<double>& values, const ColumnLayout& layout) {
  std::vector<Index> order = layout.points;
  order.insert(order.end(), layout.context.begin(), layout.context.end());
  return select_columns(values, order);
}

/// A model's input file as x (N x D) and c (N x K): the model's K context columns
/// found by the layout flags, or the last K when none is given.
struct PointsAndContext {
  Matrix<double> points, context;
};
inline PointsAndContext read_points_and_context(const Options& o, const std::string& path, Index dim, Index context_dim) {
  const CsvTable table = read_csv(path);
  const long long k = o.context_names.empty() && o.context_columns < 0 ? context_dim : o.context_columns;
  const ColumnLayout layout = column_layout(table.values.cols(), table.header, k, o.context_names, "'" + path + "'");
  if (static_cast<Index>(layout.points.size()) != dim || static_cast<Index>(layout.context.size()) != context_dim)
    throw ShapeError("'" + path + "': the model takes " + std::to_string(dim) + " point columns and " +
                     std::to_string(context_dim) + " context columns, found " + std::to_string(layout.points.size()) +
                     " and " + std::to_string(layout.context.size()) + " (" + std::to_string(table.values.cols()) +
                     " columns in all)");
  // finite already: the CSV reader refuses non-finite values
  return {select_columns(table.values, layout.points), select_columns(table.values, layout.context)};
}

/// --context v1,...,vK as one row, checked against the model's context width.
inline Matrix<double> parse_context_values(const std::string& text, Index context_dim) {
  const std::vector<std::string> items = detail::split_fields(text);
  require(static_cast<Index>(items.size()) == context_dim,
          "--context " + text + ": the model takes a context of " + std::to_string(context_dim) + " values, found " +
              std::to_string(items.size()));
  Matrix<double> row(1, context_dim);
  for (Index j = 0; j < context_dim; ++j) {
    double value = 0;
    require(detail::parse_number(items[static_cast<std::size_t>(j)], value) && std::isfinite(value),
            "--context " + text + ": value " + std::to_string(j + 1) + " ('" + items[static_cast<std::size_t>(j)] +
                "') is not a finite number");
    row(0, j) = value;
  }
  return row;
}

/// The one context of --context v1,...,vK for a model with K context columns, as a
/// 1 x K row (1 x 0 for an unconditional model); a missing or needless --context is refused.
inline Matrix<double> context_for(const Options& o, Index context_dim) {
  if (context_dim == 0) {
    require(o.context_values.empty(), "--context: this model is unconditional; it takes no context");
    return Matrix<double>(1, 0);
  }
  require(!o.context_values.empty(), "this model is conditional on " + std::to_string(context_dim) +
                                          " context values; give them with --context v1,...");
  return parse_context_values(o.context_values, context_dim);
}

/// A constant context column (scale 0) passes unscaled (scale 1): a context that never
/// varies in training carries no information to scale.
inline Standardization constant_columns_kept(Standardization s) {
  for (Index j = 0; j < s.scale.cols(); ++j)
    if (!(s.scale(j) > 0)) s.scale(j) = 1;
  return s;
}

/// Mean and standard deviation of each context column (constant_columns_kept).
inline Standardization context_standardization(const Matrix<double>& c) {
  Standardization s;
  s.shift = c.colwise().mean();
  s.scale = ((c.rowwise() - s.shift).array().square().colwise().sum() / static_cast<double>(c.rows())).sqrt();
  return constant_columns_kept(s);
}

/// Collective: context_standardization of every rank's context rows together.
inline Standardization context_standardization(Communicator& communicator, const Matrix<double>& c) {
  return constant_columns_kept(pooled_moments(communicator, c));
}

/// The rows of a data file or a built-in set reordered to [x | c], with K, the context width.
struct JointRows {
  Matrix<double> values;
  Index context_dim = 0;
};

/// A table's columns as [x | c]: the flags' context columns (--context-columns, --context)
/// last; without those flags the last `unflagged_context` columns.
inline JointRows context_last(CsvTable table, const Options& o, const std::string& where, Index unflagged_context = 0) {
  const long long context_columns = o.context_columns >= 0 ? o.context_columns : (o.context_names.empty() ? unflagged_context : 0);
  const ColumnLayout layout = column_layout(table.values.cols(), table.header, context_columns, o.context_names, where);
  if (layout.context.empty()) return {std::move(table.values), 0};  // no reordering: no copy
  return {points_then_context(table.values, layout), static_cast<Index>(layout.context.size())};
}

/// A data file's rows, or a built-in set's (drawn from rng), as [x | c]; unflagged_context:
/// as context_last (a conditional built-in set's own; for held-out files the training data's).
inline JointRows load_joint_rows(const Options& o, const std::string& path, Random& rng, const std::string& where,
                                 Index unflagged_context = 0) {
  if (!path.empty()) return context_last(read_table(path), o, where, unflagged_context);
  CsvTable table;
  table.values = generate_dataset(o.dataset, static_cast<Index>(o.n), rng, o.noise, o.dim);
  return context_last(std::move(table), o, where, dataset_info(o.dataset).context_dim);
}

/// Held-out rows must have the training rows' layout: dim point and context_dim context columns.
inline void require_training_layout(const JointRows& rows, Index dim, Index context_dim, const std::string& where) {
  if (rows.values.cols() != dim + context_dim || rows.context_dim != context_dim)
    throw ShapeError(where + ": expected " + std::to_string(dim) + " point and " + std::to_string(context_dim) +
                     " context columns like the training data, found " + std::to_string(rows.values.cols() - rows.context_dim) +
                     " and " + std::to_string(rows.context_dim));
}

/// A split's rows [x | c] as x and c.
inline std::pair<DataSplit, DataSplit> split_columns(const DataSplit& joint, Index dim) {
  auto part = [dim](const Matrix<double>& rows, bool context) {
    return Matrix<double>(context ? rows.rightCols(rows.cols() - dim) : rows.leftCols(dim));
  };
  return {DataSplit{part(joint.train, false), part(joint.validation, false), part(joint.test, false)},
          DataSplit{part(joint.train, true), part(joint.validation, true), part(joint.test, true)}};
}

/// Names for rows [x | c] of a model: x0, … and c0, …
inline std::vector<std::string> points_and_context_header(Index dim, Index context_dim) {
  std::vector<std::string> header = point_header(dim);
  for (Index j = 0; j < context_dim; ++j) header.push_back("c" + std::to_string(j));
  return header;
}

}  // namespace eigenflow::cli
