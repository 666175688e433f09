//! Elastic tabstops, exactly as Go's `text/tabwriter` lays them out (with
//! the `RememberWidths` flag of the fork kubectl uses), so that miniktl's
//! columns line up character for character with kubectl's.
//!
//! Text is split into cells at `\t`; a column is the run of consecutive
//! lines that have a tab-terminated cell at that position, and it is as wide
//! as its widest cell plus `padding` (at least `minwidth`). The last cell of
//! a line is not part of any column. A line without any tab ends every open
//! column (Go flushes there), which is why kubectl's `describe` sections
//! align independently of each other.

/// A Go-compatible tabwriter that formats into a `String`.
#[derive(Debug, Clone)]
pub struct TabWriter {
    minwidth: usize,
    padding: usize,
    remember_widths: bool,
    maxwidths: Vec<usize>,
    lines: Vec<Vec<String>>,
    line: Vec<String>,
    cell: String,
    out: String,
}

impl TabWriter {
    /// kubectl `get`'s table writer: `tabwriter.NewWriter(out, 6, 4, 3, ' ', RememberWidths)`.
    pub fn for_tables() -> Self {
        Self::new(6, 3, true)
    }

    /// kubectl `describe`'s writer: `tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)`.
    pub fn for_describe() -> Self {
        Self::new(0, 2, false)
    }

    pub fn new(minwidth: usize, padding: usize, remember_widths: bool) -> Self {
        TabWriter {
            minwidth,
            padding,
            remember_widths,
            maxwidths: Vec::new(),
            lines: Vec::new(),
            line: Vec::new(),
            cell: String::new(),
            out: String::new(),
        }
    }

    /// Feeds text; complete lines without tabs trigger formatting, as in Go.
    pub fn write_str(&mut self, s: &str) {
        for ch in s.chars() {
            match ch {
                '\t' => self.line.push(std::mem::take(&mut self.cell)),
                '\n' => {
                    self.line.push(std::mem::take(&mut self.cell));
                    let cells = self.line.len();
                    self.lines.push(std::mem::take(&mut self.line));
                    if cells == 1 {
                        self.format_buffered(false);
                    }
                }
                c => self.cell.push(c),
            }
        }
    }

    /// Formats everything buffered (a trailing partial line is written
    /// without a newline) and returns all output produced so far.
    pub fn flush(&mut self) -> String {
        let partial = !self.cell.is_empty() || !self.line.is_empty();
        if partial {
            self.line.push(std::mem::take(&mut self.cell));
            self.lines.push(std::mem::take(&mut self.line));
        }
        self.format_buffered(partial);
        std::mem::take(&mut self.out)
    }

    /// Forgets remembered column widths (kubectl does this between kinds).
    pub fn reset_widths(&mut self) {
        self.maxwidths.clear();
    }

    fn format_buffered(&mut self, last_partial: bool) {
        let lines = std::mem::take(&mut self.lines);
        let mut widths = Vec::new();
        self.format(&lines, 0, lines.len(), &mut widths, last_partial);
    }

    fn format(
        &mut self,
        lines: &[Vec<String>],
        line0: usize,
        line1: usize,
        widths: &mut Vec<usize>,
        last_partial: bool,
    ) {
        let column = widths.len();
        let mut line0 = line0;
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A column block starts here: print the lines before it.
            self.write_lines(lines, line0, this, widths, last_partial);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                let w = lines[this][column].chars().count() + self.padding;
                width = width.max(w);
                this += 1;
            }
            if self.remember_widths {
                if self.maxwidths.len() < widths.len() {
                    let extra = widths[self.maxwidths.len()..].to_vec();
                    self.maxwidths.extend(extra);
                }
                if self.maxwidths.len() == widths.len() {
                    self.maxwidths.push(width);
                } else if self.maxwidths[widths.len()] > width {
                    width = self.maxwidths[widths.len()];
                } else {
                    self.maxwidths[widths.len()] = width;
                }
            }
            widths.push(width);
            self.format(lines, line0, this, widths, last_partial);
            widths.pop();
            line0 = this;
        }
        self.write_lines(lines, line0, line1, widths, last_partial);
    }

    fn write_lines(
        &mut self,
        lines: &[Vec<String>],
        line0: usize,
        line1: usize,
        widths: &[usize],
        last_partial: bool,
    ) {
        for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
            for (j, cell) in line.iter().enumerate() {
                self.out.push_str(cell);
                if j < widths.len() {
                    let w = cell.chars().count();
                    for _ in w..widths[j] {
                        self.out.push(' ');
                    }
                }
            }
            if !(last_partial && i + 1 == lines.len()) {
                self.out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_use_padding_three_and_minwidth_six() {
        let mut w = TabWriter::for_tables();
        w.write_str("NAME\tREADY\tAGE\nweb-1\t1/1\t5s\na\t0/1\t10m\n");
        assert_eq!(
            w.flush(),
            "NAME    READY   AGE\nweb-1   1/1     5s\na       0/1     10m\n"
        );
    }

    #[test]
    fn lines_without_tabs_end_column_blocks() {
        let mut w = TabWriter::for_describe();
        w.write_str("Name:\tweb\nNamespace:\tdefault\nPod Template:\n  Labels:\tapp=web\n");
        assert_eq!(
            w.flush(),
            "Name:       web\nNamespace:  default\nPod Template:\n  Labels:  app=web\n"
        );
    }

    #[test]
    fn remembered_widths_keep_watch_rows_aligned() {
        let mut w = TabWriter::for_tables();
        w.write_str("NAME\tAGE\nlong-name-here\t1s\n");
        let first = w.flush();
        w.write_str("x\t2s\n");
        let second = w.flush();
        assert_eq!(first, "NAME             AGE\nlong-name-here   1s\n");
        assert_eq!(second, "x                2s\n");
    }
}
