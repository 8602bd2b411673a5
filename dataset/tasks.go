package dataset

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// writeTasks writes meta/tasks.parquet (spec §3.2): rows in task_index order,
// because LeRobot looks tasks up positionally (tasks.iloc[task_index]).
func writeTasks(w io.Writer, tasks []string, mem memory.Allocator) error {
	schema, err := tasksSchema()
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ib, ok1 := b.Field(0).(*array.Int64Builder)
	sb, ok2 := b.Field(1).(*array.StringBuilder)
	if !ok1 || !ok2 {
		return fmt.Errorf("internal: tasks builders %T, %T", b.Field(0), b.Field(1))
	}
	for i, t := range tasks {
		ib.Append(int64(i))
		sb.Append(t)
	}
	rec := b.NewRecord()
	defer rec.Release()
	return writeRecords(w, schema, mem, rec)
}

// readTasks reads meta/tasks.parquet and returns the task strings indexed by
// task_index. The string column is the pandas index: the one named by the
// pandas metadata, else "task" (main) or "__index_level_0__" (0.4.x).
func readTasks(pf *parquetFile) (_ []string, err error) {
	defer recoverParquetPanic(&err, pf.path)
	names := []string{}
	if md, ok := pf.keyValue("pandas"); ok {
		var pandas struct {
			IndexColumns []any `json:"index_columns"`
		}
		if err := json.Unmarshal([]byte(md), &pandas); err == nil {
			for _, c := range pandas.IndexColumns {
				if s, ok := c.(string); ok { // a RangeIndex is described by a dict
					names = append(names, s)
				}
			}
		}
	}
	names = append(names, taskColTask, taskColPandasIdx)
	taskCol := ""
	for _, n := range names {
		if pf.hasField(n) {
			taskCol = n
			break
		}
	}
	if taskCol == "" {
		return nil, fmt.Errorf("%s: no task column (looked for %q)", pf.path, names)
	}
	idxCol, err := pf.readField(taskColIndex, nil)
	if err != nil {
		return nil, err
	}
	defer idxCol.Release()
	indices, err := chunkedInts(idxCol)
	if err != nil {
		return nil, fmt.Errorf("%s: column %q: %w", pf.path, taskColIndex, err)
	}
	strCol, err := pf.readField(taskCol, nil)
	if err != nil {
		return nil, err
	}
	defer strCol.Release()
	var strs []string
	for _, chunk := range strCol.Chunks() {
		sa, ok := chunk.(*array.String)
		if !ok {
			return nil, fmt.Errorf("%s: column %q has type %s, want string", pf.path, taskCol, chunk.DataType())
		}
		for i := 0; i < sa.Len(); i++ {
			if sa.IsNull(i) {
				return nil, fmt.Errorf("%s: column %q, row %d: %w", pf.path, taskCol, len(strs), errNull)
			}
			strs = append(strs, sa.Value(i))
		}
	}
	if len(strs) != len(indices) {
		return nil, fmt.Errorf("%s: %d task strings for %d task indices", pf.path, len(strs), len(indices))
	}
	for row, ti := range indices {
		if ti != int64(row) {
			return nil, fmt.Errorf("%s: row %d has task_index %d: rows must be task_index 0..%d in order (LeRobot reads them by position)", pf.path, row, ti, len(indices)-1)
		}
	}
	tasks := strs
	return tasks, nil
}
